"""The Mr. Son scenario, played by the sandbox against a running hub (issue 4's proof)."""

import pytest

from zalohub.accounts.models import OfficialAccount, ZaloApp
from zalohub.events.models import Message
from zalohub.events.processing.queue import drain
from zalohub.partners.models import Partner
from zalohub.sandbox import world
from zalohub.sandbox.simulate import run_scenario


@pytest.mark.django_db(transaction=True)
def test_mr_son_ends_as_one_partner_with_two_links_and_both_conversations(
    live_server, sandbox_server, sandbox
):
    oas = ((world.OA_SUPPORT_ID, "Support"), (world.OA_SALES_ID, "Sales"))
    for spec, (oa_id, name) in zip(world.demo_world()["apps"], oas, strict=True):
        app = ZaloApp.objects.create(
            name=spec["name"],
            app_id=spec["app_id"],
            secret_key=spec["secret_key"],
            oa_secret_key=spec["oa_secret_key"],
        )
        OfficialAccount.objects.create(app=app, name=f"{name} OA", oa_id=oa_id)
    report = run_scenario(
        sandbox_url=sandbox_server.base_url, hub=live_server.url, scenario="son", wait=30
    )
    # It should have every webhook accepted by the hub.
    assert report.idle and report.states() == {"delivered": 4}
    drain()
    # It should end with one partner holding both OAs' links and both conversations.
    son = Partner.objects.get(merged_into__isnull=True)
    assert son.name == "Nguyễn Văn Sơn" and not son.is_shadow
    assert sorted(son.zalo_links.values_list("oa__name", flat=True)) == ["Sales OA", "Support OA"]
    assert Message.objects.filter(partner_link__partner=son).count() == 2
