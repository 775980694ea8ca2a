"""A reply's request id follows it to the worker's call to Zalo and its API log."""

from tests.inbox.conftest import conversation_of, send_due
from zalohub.apilog.models import ApiLog
from zalohub.core import requestid
from zalohub.inbox import services


def test_it_follows_a_reply_to_its_api_logs(db, sandbox, connected_oa, customer_writes, agent):
    customer_writes("Giá bao nhiêu?")
    # The agent's page request queues the reply...
    with requestid.bound("page-request-42"):
        message = services.conversation_reply(
            conversation=conversation_of(), actor=agent, text="500k ạ"
        )
    assert message.events.get().request_id == "page-request-42"
    # ... and the worker's call to Zalo carries the page's id into its API log.
    assert requestid.current() == ""
    assert send_due() == ["sent"]
    calls = ApiLog.objects.filter(ref_type="event", ref_id=str(message.events.get().pk))
    assert [call.request_id for call in calls] == ["page-request-42"]
