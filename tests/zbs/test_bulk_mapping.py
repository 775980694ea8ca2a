"""Bulk send parameters from each partner (issue 14 §7): a parameter maps to a constant
or to the partner's name, phone or an external reference; the first recipients'
messages are previewed before anything is sent."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.zbs.conftest import make_partner
from zalohub.sandbox.world import OA_SUPPORT_ID
from zalohub.zbs.bulk import bulk_run, bulk_start
from zalohub.zbs.models import BulkSend, TemplateSend

pytestmark = pytest.mark.django_db


@pytest.fixture
def customers(oa):
    people = []
    for i in range(7):
        partner = make_partner(oa, name=f"Khách {i}", phone=f"090312345{i}")
        partner.external_refs = {"erp": f"DH-{100 + i}"}
        partner.save()
        people.append(partner)
    return people


def test_each_recipient_gets_its_own_values(approved, customers, sandbox):
    bulk = bulk_start(
        template=approved,
        partners=customers[:3],
        params={},
        mapping={
            "customer_name": {"source": "name"},
            "order_code": {"source": "ref", "key": "erp"},
        },
        enqueue=False,
    )
    assert bulk_run(bulk=bulk) == "done"
    sent = {s.partner.name: s.params for s in TemplateSend.objects.select_related("partner")}
    # It should fill each partner's own name and ERP reference, not one value for all.
    assert sent == {
        "Khách 0": {"customer_name": "Khách 0", "order_code": "DH-100"},
        "Khách 1": {"customer_name": "Khách 1", "order_code": "DH-101"},
        "Khách 2": {"customer_name": "Khách 2", "order_code": "DH-102"},
    }
    with sandbox.lock:
        datas = [s.template_data for s in sandbox.zns.all_sends(OA_SUPPORT_ID)]
    assert {"customer_name": "Khách 1", "order_code": "DH-101"} in datas


def test_the_page_previews_the_first_five_before_sending(admin, approved, customers, sandbox):
    client = Client()
    client.force_login(admin)
    url = reverse("admin:zbs_template_bulk", args=[approved.pk])
    form = {
        "partners": [str(p.pk) for p in customers],
        "source_customer_name": "name",
        "source_order_code": "const",
        "param_order_code": "KM-2026",
        "action": "preview",
    }
    page = client.get(url).content.decode()
    # It should offer the partner fields and each external reference as sources.
    assert 'value="name"' in page and 'value="phone"' in page and 'value="ref:erp"' in page
    page = client.post(url, form).content.decode()
    # It should show the first five recipients' own messages, and send nothing yet.
    assert not BulkSend.objects.exists()
    for i in range(5):
        assert f"Đơn hàng KM-2026 của Khách {i} đã được xác nhận." in page
    assert "Khách 5 đã" not in page
    assert "and 2 more recipients." in page
    assert 'id="btn-start-bulk"' in page
    answer = client.post(url, {**form, "action": "start"})
    assert answer.status_code == 302
    bulk = BulkSend.objects.get()
    assert bulk.params == {"order_code": "KM-2026"}
    assert bulk.mapping == {"customer_name": {"source": "name"}}
    # The bulk's record says where each value came from, as a table, with no Save.
    record = client.get(reverse("admin:zbs_bulksend_change", args=[bulk.pk])).content.decode()
    assert "<td><code>customer_name</code></td><td>The partner&#x27;s name</td><td>—</td>" in record
    assert (
        "<td><code>order_code</code></td><td>The same value for everyone</td><td>KM-2026</td>"
        in record
    )
    assert "{&quot;order_code&quot;" not in record and 'name="_save"' not in record
    # Its field names read in Vietnamese too (they had no verbose names).
    record = client.get(
        reverse("admin:zbs_bulksend_change", args=[bulk.pk]), HTTP_ACCEPT_LANGUAGE="vi"
    ).content.decode()
    assert "Chính sách định tuyến" in record
    for english in ("Route policy", "Created at", "Template:", "Status:"):
        assert english not in record, english


def test_the_preview_names_a_recipient_whose_value_is_missing(admin, approved, customers):
    client = Client()
    client.force_login(admin)
    url = reverse("admin:zbs_template_bulk", args=[approved.pk])
    customers[1].external_refs = {}
    customers[1].save()
    form = {
        "partners": [str(p.pk) for p in customers[:2]],
        "source_customer_name": "name",
        "source_order_code": "ref:erp",
        "action": "preview",
    }
    page = client.post(url, form).content.decode()
    # It should show the first partner's message and say what the second one lacks.
    assert "Đơn hàng DH-100 của Khách 0 đã được xác nhận." in page
    assert "The parameter “order_code” is missing." in page
