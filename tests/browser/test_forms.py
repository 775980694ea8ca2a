"""Forms a person fills instead of JSON (issue 14 §6-§8), in English and Vietnamese at
1400 px: a template's parameters and buttons as rows checked while typing, the bulk
send's parameter mapping with its preview, the merge report as tables and the undo
that says what it restores. Screenshots go to test-output/forms/."""

import pytest
from django.contrib.auth.models import Group, User

from zalohub.core.roles import ZALO_ADMIN, ZALO_EVENTS
from zalohub.zbs.models import Template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
LANGUAGES = {"en": "en-US", "vi": "vi-VN"}
BODY = "Đơn hàng <order_code> của <customer_name>, số tiền <amount> đ."


@pytest.fixture
def shots(output_dir):
    path = output_dir / "forms"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def admin_page(browser, live_server):
    """A page per language for a Zalo Admin, 1400 px wide."""
    user = User.objects.create_user("it-admin", password="pw-it-admin", is_staff=True)
    user.groups.set(Group.objects.filter(name__in=[ZALO_ADMIN, ZALO_EVENTS]))
    contexts = []

    def open_page(language: str):  # type: ignore[no-untyped-def]
        context = browser.new_context(
            locale=LANGUAGES[language], viewport={"width": 1400, "height": 900}
        )
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/admin/login/")
        page.fill("#id_username", "it-admin")
        page.fill("#id_password", "pw-it-admin")
        page.click("input[type=submit]")
        page.wait_for_selector("#user-tools")
        assert page.locator("html").get_attribute("lang") == language
        return page

    yield open_page
    for context in contexts:
        context.close()


def _row(page, prefix: str, index: int):  # type: ignore[no-untyped-def]
    return page.locator(f"#zbs-rows-{prefix} .zbs-row").nth(index)


def _live(page, field: str) -> str:
    """The live lint's problems beside a field, once the answer has come."""
    page.wait_for_timeout(100)
    page.wait_for_function(
        "() => !document.querySelector('.zbs-live-summary').textContent.startsWith('…')"
    )
    lists = page.locator(f"ul.zbs-live[data-field={field}]")
    return lists.inner_text() if lists.count() else ""


@pytest.mark.parametrize("language", ["en", "vi"])
def test_an_admin_builds_a_templates_parameters_with_the_form(
    admin_page, live_server, connected_oa, shots, language
):
    page = admin_page(language)
    page.goto(f"{live_server.url}/admin/zbs/template/add/")
    page.select_option("#id_oa", str(connected_oa.pk))
    page.fill("#id_name", "Xác nhận đơn hàng")
    page.fill("#id_body", BODY)
    # It should offer the types by name in the page's language, with their limits.
    type_names = _row(page, "params", 0).locator("select option").all_inner_texts()
    assert any(("Mã / ID" if language == "vi" else "Code / ID") in t for t in type_names)
    for index, (name, kind, sample) in enumerate(
        [("order_code", "4", "DH001"), ("customer_name", "1", "S" * 31)]
    ):
        row = _row(page, "params", index)
        row.locator(".zbs-param-name").fill(name)
        row.locator(".zbs-param-type").select_option(kind)
        row.locator(".zbs-param-sample").fill(sample)
    # It should count the sample against its type's limit as the admin types...
    count = _row(page, "params", 1).locator(".zbs-count")
    assert count.inner_text() == "31 / 30"
    assert "zbs-over" in (count.get_attribute("class") or "")
    # ...and the lint should name the row (and the parameter not declared yet).
    page.wait_for_function(
        "() => document.querySelector('ul.zbs-live[data-field=params]') !== null"
    )
    assert "customer_name" in _live(page, "params")
    assert "amount" in _live(page, "body")
    page.screenshot(path=str(shots / f"1-template-rows-problems-{language}.png"), full_page=True)

    _row(page, "params", 1).locator(".zbs-param-sample").fill("Anh Sơn")
    assert count.inner_text() == "7 / 30"
    # A third parameter gets a row of its own from the Add button.
    assert page.locator("#zbs-rows-params .zbs-row").count() == 2
    page.locator("#zbs-rows-params .zbs-row-add").click()
    assert page.locator("#zbs-rows-params .zbs-row").count() == 3
    third = _row(page, "params", 2)
    assert third.locator(".zbs-param-name").input_value() == ""
    third.locator(".zbs-param-name").fill("amount")
    third.locator(".zbs-param-type").select_option("14")
    third.locator(".zbs-param-sample").fill("1.250.000")
    button = _row(page, "buttons", 0)
    button.locator(".zbs-button-type").select_option("1")
    button.locator(".zbs-button-title").fill("Xem đơn hàng")
    button.locator(".zbs-button-content").fill("https://shop.example.vn/don-hang")
    page.wait_for_function(
        "() => document.getElementById('zbs-lint-live').classList.contains('zbs-live-ok')"
    )
    assert page.locator("ul.zbs-live").count() == 0
    page.screenshot(path=str(shots / f"2-template-rows-ok-{language}.png"), full_page=True)
    page.click("input[name=_continue]")
    page.wait_for_selector("#zbs-statusbar")
    template = Template.objects.get()
    # It should store the same list the rest of the hub reads.
    assert template.params == [
        {"name": "order_code", "type": 4, "sample": "DH001"},
        {"name": "customer_name", "type": 1, "sample": "Anh Sơn"},
        {"name": "amount", "type": 14, "sample": "1.250.000"},
    ]
    assert template.buttons == [
        {"type": 1, "title": "Xem đơn hàng", "content": "https://shop.example.vn/don-hang"}
    ]
