"""The one task that sends an outbound event of any kind: it carries only the id."""

from django.tasks import task


@task(queue_name="zalo")
def send_event(event_id: int) -> str:
    # Imported here: the attempt's settle functions enqueue this very task.
    from zalohub.events.outbound.attempt import send_outbound

    return send_outbound(event_id=event_id, worker_id="task")
