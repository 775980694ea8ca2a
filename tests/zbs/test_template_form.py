"""The template form: parameters and buttons as rows, checked by the lint (issue 14 §6),
and read-only templates without Save buttons (issue 14 §9)."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.zbs.conftest import make_template
from zalohub.zbs.models import Template

pytestmark = pytest.mark.django_db
BODY = "Đơn hàng <order_code> của <customer_name> đã được xác nhận."


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _form(oa, **rows: str) -> dict[str, str]:
    return {
        "oa": str(oa.pk),
        "name": "Xác nhận đơn hàng",
        "template_type": "1",
        "tag": "1",
        "body": BODY,
        "note": "",
        "params-count": "3",
        "params-0-name": "order_code",
        "params-0-type": "4",
        "params-0-sample": "DH001",
        "params-1-name": "customer_name",
        "params-1-type": "1",
        "params-1-sample": "Sơn",
        # A blank row (the spare one a browser without the script shows) is dropped.
        "params-2-name": "",
        "params-2-type": "",
        "params-2-sample": "",
        "buttons-count": "2",
        "buttons-0-type": "1",
        "buttons-0-title": "Xem đơn hàng",
        "buttons-0-content": "https://shop.example.vn/don-hang",
        "buttons-1-type": "",
        "buttons-1-title": "",
        "buttons-1-content": "",
        **rows,
    }


def test_it_saves_rows_as_the_stored_parameter_list(admin, oa):
    answer = _client(admin).post(reverse("admin:zbs_template_add"), {**_form(oa), "_save": "1"})
    assert answer.status_code == 302, answer.content.decode()[-3000:]
    template = Template.objects.get()
    # It should store the same JSON as before: numeric types, no blank rows.
    assert template.params == [
        {"name": "order_code", "type": 4, "sample": "DH001"},
        {"name": "customer_name", "type": 1, "sample": "Sơn"},
    ]
    assert template.buttons == [
        {"type": 1, "title": "Xem đơn hàng", "content": "https://shop.example.vn/don-hang"}
    ]


def test_it_refuses_a_row_zalo_would_refuse_and_names_it(admin, oa):
    form = _form(oa, **{"params-1-sample": "S" * 31, "buttons-0-content": "http://x.vn"})
    answer = _client(admin).post(reverse("admin:zbs_template_add"), form)
    page = answer.content.decode()
    # It should not save, and say which row breaks which limit, by the lint's words.
    assert answer.status_code == 200
    assert not Template.objects.exists()
    assert "The sample of “customer_name” is longer than the 30 characters allowed." in page
    assert "must link to an https:// address" in page
    # The rows come back as typed, in the table (not as JSON).
    assert 'name="params-1-sample" value="' + "S" * 31 in page
    assert "31 / 30" in page


def test_the_form_shows_rows_with_types_by_name_not_json(admin, oa):
    template = make_template(oa)
    page = _client(admin).get(reverse("admin:zbs_template_change", args=[template.pk]))
    html = page.content.decode()
    # It should show one row per parameter, its type chosen by name, length against limit.
    assert 'name="params-0-name" value="order_code"' in html
    assert '<option value="4" data-limit="30" selected>Code / ID' in html
    assert "5 / 30" in html
    assert 'name="params"' not in html  # no JSON textarea
    assert 'id="zbs-lint-live"' in html
    assert "in the content as &lt;name&gt;." in html


def test_the_lint_endpoint_answers_as_the_admin_types(admin, agent, oa):
    url = reverse("admin:zbs_template_lint_check")
    typed = _form(oa, **{"body": "Đơn <order_code> xem https://shop.vn", "params-0-type": "12"})
    answer = _client(admin).post(url, typed)
    problems = answer.json()["problems"]
    fields = {p["field"] for p in problems}
    # It should name each problem's field: the link in the content, the unused and OTP rows.
    assert fields >= {"body", "params"}
    assert any("https://shop.vn" in p["message"] for p in problems)
    assert any("customer_name" in p["message"] for p in problems)
    assert any("OTP" in p["message"] for p in problems)
    clean = _client(admin).post(url, _form(oa)).json()
    assert clean["problems"] == []
    # It should refuse someone who cannot write templates.
    assert _client(agent).post(url, typed).status_code == 403


def test_it_answers_in_vietnamese(admin, oa):
    client = _client(admin)
    client.cookies["django_language"] = "vi"
    url = reverse("admin:zbs_template_lint_check")
    answer = client.post(url, _form(oa, **{"params-1-sample": "S" * 31}), HTTP_ACCEPT_LANGUAGE="vi")
    messages = [p["message"] for p in answer.json()["problems"]]
    assert messages and all("longer than" not in m for m in messages), messages


@pytest.mark.parametrize("status", ["approved", "rejected", "pending"])
def test_a_template_that_is_not_a_draft_has_no_save_buttons(admin, oa, status):
    template = make_template(
        oa, status=status, buttons=[{"type": 2, "title": "Gọi", "content": "84912345678"}]
    )
    html = (
        _client(admin)
        .get(reverse("admin:zbs_template_change", args=[template.pk]))
        .content.decode()
    )
    # It should offer no Save: the record is read, its rows shown as tables.
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert "<td><code>order_code</code></td><td>Code / ID</td><td>DH001</td><td>30</td>" in html
    assert "<td>Call a phone number</td><td>Gọi</td><td>84912345678</td>" in html
    draft = make_template(oa, name="Bản nháp đơn hàng")
    html = (
        _client(admin).get(reverse("admin:zbs_template_change", args=[draft.pk])).content.decode()
    )
    assert 'name="_save"' in html


def test_the_zbs_pages_use_the_admins_breadcrumbs_and_buttons(admin, oa, approved):
    client = _client(admin)
    pages = {
        reverse("admin:zbs_template_send", args=[approved.pk]): 'class="button default"',
        reverse("admin:zbs_template_bulk", args=[approved.pk]): 'class="button default"',
        reverse("admin:zbs_template_starters", args=[oa.pk]): 'class="button default"',
        reverse("admin:zbs_template_dashboard", args=[oa.pk]): "zbs-quality",
    }
    for url, marker in pages.items():
        page = client.get(url).content.decode()
        # It should use the admin's breadcrumbs list and its button classes.
        assert '<ol class="breadcrumbs">' in page, url
        assert f'<li><a href="/admin/zbs/template/?oa__id__exact={oa.pk}">' in page, url
        assert marker in page, url
