"""A refused template send says why in the words of zalo's one code table."""

import pytest

from tests.zbs.conftest import VALUES
from zalohub.events.models import ZaloEvent
from zalohub.sandbox.world import SON_PHONE
from zalohub.zalo import errors
from zalohub.zbs.delivery import deliver_template
from zalohub.zbs.sending import template_send

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("code", [-118, -141])
def test_it_explains_a_refusal_as_diagnostics_does(approved, son, sandbox, code):
    send = template_send(partner=son, template=approved, params=VALUES, route_policy="phone")
    sandbox.zns.refusals[SON_PHONE] = code
    event = ZaloEvent.objects.get(message=send.message)
    assert deliver_template(event_id=event.pk, worker_id="test") == "failed"
    event.refresh_from_db()
    # It should give the table's explanation, with Zalo's own code.
    assert errors.explain(code) in event.error_message
    assert str(code) in event.error_message
