"""`zalohub serve` as a real process on loopback: open inbox streams never take the
threads webhooks need, and SIGTERM loses no webhook, ends the streams with a retry
hint; `zalohub worker` finishes the batch in hand on SIGTERM.

The processes see only committed rows, so the tests are ``django_db(transaction=True)``
(see tests/events/workerproc.py)."""

import threading
import time
from collections import Counter

import pytest

from tests.core.serveproc import ServeProc, StreamReader, send_webhook, session_cookie
from tests.events.workerproc import Worker, wait_until
from zalohub.events.models import ProcessingState, ZaloEvent
from zalohub.inbox.models import OAMembership

pytestmark = pytest.mark.django_db(transaction=True)


def _stored(numbers: set[int]) -> set[int]:
    """Which of the text events ``m-<n>`` are stored (dedupe key: name and msg_id)."""
    keys = [f"user_send_text:m-{n}" for n in numbers]
    found = ZaloEvent.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True)
    return {int(key.rsplit("-", 1)[1]) for key in found}


def test_open_streams_do_not_take_the_threads_webhooks_need(
    agent, zalo_app, connected_oa, tmp_path
):
    OAMembership.objects.create(user=agent, oa=connected_oa)
    cookie = session_cookie(agent)
    server = ServeProc(tmp_path, threads=2)
    streams: list[StreamReader] = []
    try:
        # Four times as many open pages as the process has threads...
        streams = [StreamReader(server.port, cookie) for _ in range(8)]
        assert all(s.wait_for("retry: 1000") for s in streams), server.output()
        # ...and webhooks are still answered (under a WSGI server each stream would hold
        # a thread for its 120 s and every webhook would wait behind them).
        statuses = [send_webhook(server.port, zalo_app, n) for n in range(20)]
        assert statuses == [200] * 20, server.output()
        # It should have kept every stream open meanwhile, ticking.
        assert not any(s.ended.is_set() for s in streams)
        assert all(s.wait_for(": tick") for s in streams)
    finally:
        for s in streams:
            s.close()
        server.terminate()
        assert server.wait() == 0, server.output()
    assert _stored(set(range(20))) == set(range(20))


class Burst:
    """Senders that post webhooks n, n+1, ... (one new connection each) until refused."""

    def __init__(self, port: int, app, senders: int) -> None:
        self.port, self.app = port, app
        self.outcomes: dict[int, int | str] = {}
        self.lock = threading.Lock()
        self.next = 0
        self.threads = [threading.Thread(target=self._send) for _ in range(senders)]
        for thread in self.threads:
            thread.start()

    def _number(self) -> int:
        with self.lock:
            self.next += 1
            return self.next

    def _send(self) -> None:
        refused_in_a_row = 0
        deadline = time.monotonic() + 90
        while refused_in_a_row < 3 and time.monotonic() < deadline:
            n = self._number()
            outcome = send_webhook(self.port, self.app, n)
            self.outcomes[n] = outcome
            refused_in_a_row = refused_in_a_row + 1 if outcome == "refused" else 0

    def answered(self) -> int:
        return sum(1 for o in list(self.outcomes.values()) if o == 200)

    def join(self) -> None:
        for thread in self.threads:
            thread.join(120)


@pytest.mark.parametrize("workers", [1, 2])
def test_sigterm_answers_every_webhook_in_flight_and_ends_the_streams(
    agent, zalo_app, connected_oa, tmp_path, workers
):
    OAMembership.objects.create(user=agent, oa=connected_oa)
    cookie = session_cookie(agent)
    server = ServeProc(tmp_path, threads=4, workers=workers)
    streams: list[StreamReader] = []
    try:
        streams = [StreamReader(server.port, cookie) for _ in range(3)]
        assert all(s.wait_for("retry: 1000") for s in streams), server.output()
        burst = Burst(server.port, zalo_app, senders=4)
        assert wait_until(lambda: burst.answered() >= 40, timeout=60), server.output()
        server.terminate()  # mid-burst
        code = server.wait()
        burst.join()
    finally:
        for s in streams:
            s.close()
        server.stop_quietly()
    assert code == 0, server.output()
    outcomes = Counter(o if isinstance(o, str) else f"HTTP {o}" for o in burst.outcomes.values())
    # It should answer or refuse every request: none read and then dropped, none failed.
    assert set(outcomes) <= {"HTTP 200", "refused"}, (outcomes, server.output())
    assert outcomes["refused"] >= 1  # it stopped accepting
    # Every webhook answered 200 is stored (the 200 goes out after the commit).
    answered = {n for n, o in burst.outcomes.items() if o == 200}
    assert _stored(answered) == answered
    # It should end every stream with a retry hint, at once rather than after its 120 s.
    for s in streams:
        assert s.ended.is_set()
        assert s.text.count("retry: ") == 2, s.text[-300:]
        assert s.text.endswith("0\r\n\r\n")  # the chunked body's proper end


def test_a_worker_finishes_the_batch_in_hand_on_sigterm(client, zalo_app, connected_oa, tmp_path):
    from tests.core.serveproc import text_event
    from tests.helpers import post_webhook

    for n in range(400):
        response = post_webhook(client, zalo_app.app_id, text_event(n), key=zalo_app.oa_secret_key)
        assert response.status_code == 200
    worker = Worker(tmp_path, "graceful", batch_size=100, scheduler=False)
    try:
        prefix = f":{worker.pid}/events.dispatcher/"
        in_hand = ZaloEvent.objects.filter(
            processing_state=ProcessingState.PROCESSING, claimed_by__contains=prefix
        )
        held: set[int] = set()

        def holding() -> bool:
            held.update(in_hand.values_list("pk", flat=True))
            return bool(held)

        assert wait_until(holding, timeout=60, every=0.002), worker.output()
        code = worker.terminate()  # while it holds a claimed batch
    finally:
        worker.stop_quietly()
    assert code == 0, worker.output()
    # The batch it held when told to stop was processed, not dropped or left claimed.
    states = set(ZaloEvent.objects.filter(pk__in=held).values_list("processing_state", flat=True))
    assert states == {ProcessingState.PROCESSED}, worker.output()
    assert not ZaloEvent.objects.filter(processing_state=ProcessingState.PROCESSING).exists()


def test_sigterm_while_the_server_processes_start_stops_them_cleanly(tmp_path):
    """A stop signal passed on while the server processes are still starting (importing,
    Django's setup) waits for their handler: each drains and ends with 0, none is ended
    by the signal's default action (a loaded machine makes that window seconds long)."""
    server = ServeProc(
        tmp_path, threads=2, workers=2, extra_env={"ZALOHUB_LOG_LEVEL": "INFO"}, wait_ready=False
    )
    try:
        # The supervisor logs this line once it has started both server processes: they
        # are then only beginning Python's own start.
        assert wait_until(lambda: "2 processes on" in server.output(), timeout=60, every=0.001)
        server.terminate()
        code = server.wait()
    finally:
        server.stop_quietly()
    assert code == 0, server.output()
    assert "ended with" not in server.output()
