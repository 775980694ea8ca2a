"""Forms a person fills instead of JSON (issue 14 §6-§8), in English and Vietnamese at
1400 px: a template's parameters and buttons as rows checked while typing, the bulk
send's parameter mapping with its preview, the merge report as tables and the undo
that says what it restores. Screenshots go to test-output/forms/."""

import pytest

from zalohub.partners.merge import partner_merge
from zalohub.partners.models import Partner, PartnerPhone
from zalohub.partners.resolution import ZaloUser, resolve_link, suggest_duplicate
from zalohub.zbs.models import Template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
BODY = "Đơn hàng <order_code> của <customer_name>, số tiền <amount> đ."


@pytest.fixture
def shots(output_dir):
    path = output_dir / "forms"
    path.mkdir(exist_ok=True)
    return path


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


def _approved(oa) -> Template:
    """An Approved template as the sandbox reviewer leaves it (the bulk page needs one)."""
    return Template.objects.create(
        oa=oa,
        name="Xác nhận đơn hàng",
        body="Đơn hàng <order_code> của <customer_name> đã được xác nhận.",
        params=[
            {"name": "order_code", "type": 4, "sample": "DH001"},
            {"name": "customer_name", "type": 1, "sample": "Sơn"},
        ],
        status=Template.Status.APPROVED,
        zalo_template_id="990001",
    )


@pytest.mark.parametrize("language", ["en", "vi"])
def test_an_admin_maps_bulk_parameters_and_previews_the_first_recipients(
    admin_page, live_server, connected_oa, shots, language
):
    template = _approved(connected_oa)
    for i in range(6):
        partner = Partner.objects.create(
            name=f"Khách hàng {i}", is_shadow=False, external_refs={"erp": f"DH-{500 + i}"}
        )
        PartnerPhone.objects.create(
            partner=partner, number=f"8490312345{i}", source="manual", verified=True
        )
    page = admin_page(language)
    page.goto(f"{live_server.url}/admin/zbs/template/{template.pk}/bulk/")
    page.locator("input[name=partners]").first.wait_for()
    for box in page.locator("input[name=partners]").all():
        box.check()
    # It should offer the partner's fields and the external reference by name.
    page.select_option("#id_source_customer_name", "name")
    page.select_option("#id_source_order_code", "ref:erp")
    assert "erp" in page.locator("#id_source_order_code").inner_text()
    assert page.locator("#btn-start-bulk").count() == 0  # a preview comes first
    page.click("#btn-preview-bulk")
    rows = page.locator("#zbs-bulk-preview tbody tr")
    # It should show each of the first five recipients' own message, and no more.
    assert rows.count() == 5
    assert "Đơn hàng DH-500 của Khách hàng 0 đã được xác nhận." in rows.nth(0).inner_text()
    assert "Đơn hàng DH-504 của Khách hàng 4 đã được xác nhận." in rows.nth(4).inner_text()
    assert page.locator("#btn-start-bulk").is_visible()
    # The choices survive the preview, so Start sends what was previewed.
    assert page.locator("#id_source_order_code").input_value() == "ref:erp"
    assert page.locator("input[name=partners]:checked").count() == 6
    page.screenshot(path=str(shots / f"3-bulk-preview-{language}.png"), full_page=True)


@pytest.mark.parametrize("language", ["en", "vi"])
def test_an_admin_reads_the_merge_report_and_undoes_it_after_confirming(
    admin_page, live_server, connected_oa, shots, language
):
    oa = connected_oa
    kept = resolve_link(oa=oa, user=ZaloUser("u-901", display_name="An")).partner
    other = Partner.objects.create(
        name="Nguyễn Văn An", email="an@example.vn", external_refs={"erp": "C-7"}
    )
    PartnerPhone.objects.create(partner=other, number="84912000002", source="manual")
    suggest_duplicate(kept, other, score=80, reasons=[{"kind": "similar_name", "value": "an"}])
    journal = partner_merge(survivor=kept, merged=other, take=("name", "email"))
    page = admin_page(language)
    page.goto(f"{live_server.url}/admin/partners/mergejournal/{journal.pk}/change/")
    fields = page.locator("table.zh-merge-fields")
    # It should read as a table: each field before (both partners) and after.
    assert fields.locator("tbody tr").count() == 5
    name_row = fields.locator("tbody tr").first.inner_text()
    assert "An" in name_row and "Nguyễn Văn An" in name_row
    assert "erp: C-7" in fields.inner_text()
    assert "survivor_before" not in page.content()
    assert page.locator("input[name=_save]").count() == 0
    page.screenshot(path=str(shots / f"4-merge-journal-{language}.png"), full_page=True)

    page.click("#btn-undo-merge")
    page.wait_for_selector("#btn-confirm-undo")
    # It should say what it restores before anything is undone.
    journal.refresh_from_db()
    assert journal.undone_at is None
    assert "Nguyễn Văn An" in page.locator("#undo-summary").inner_text()
    assert page.locator("#undo-fields tbody tr").count() == 5
    assert "84912000002" in page.locator("#undo-rows").inner_text()
    page.screenshot(path=str(shots / f"5-undo-confirm-{language}.png"), full_page=True)
    page.click("#btn-confirm-undo")
    page.wait_for_selector(".messagelist")
    journal.refresh_from_db()
    assert journal.undone_at is not None
    assert Partner.objects.get(pk=other.pk).merged_into is None
    page.screenshot(path=str(shots / f"6-merge-undone-{language}.png"), full_page=True)
