"""The loopback receiver of bench/webhook_delivery.py, served by uvicorn (uvloop and
httptools, no Django): it reads the body and answers 200, as `bare_asgi` does. Of the
requests that carry a `webhook-signature` (the hub's deliveries, not the bare loop's
unsigned POSTs), one in BENCH_VERIFY_EVERY (default 1: all) per process is verified first
with the `standardwebhooks` verifier and the secret in BENCH_WEBHOOK_SECRET; one that
does not verify answers 400, so that delivery is retried and the bench's "n of n
delivered" check fails. Verifying costs the receiver about 5x what signing costs the
hub (the verifier checks the timestamp and signs again), all on our side of the ratio;
the issue's tests verify every delivery."""

import os

from standardwebhooks import Webhook, WebhookVerificationError

OK = b'{"ok": true}'
BAD = b'{"ok": false}'
_SECRET = os.environ.get("BENCH_WEBHOOK_SECRET", "")
_VERIFIER = Webhook(_SECRET) if _SECRET else None
_EVERY = max(1, int(os.environ.get("BENCH_VERIFY_EVERY", "1")))
_seen = 0


def _answer(status: int, body: bytes) -> tuple[dict, dict]:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": body},
    )


_OK, _BAD = _answer(200, OK), _answer(400, BAD)


async def application(scope, receive, send):  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    global _seen
    answer = _OK
    signed = any(k == b"webhook-signature" for k, _ in scope["headers"])
    _seen += signed
    if signed and _seen % _EVERY == 0:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            if _VERIFIER is None:
                raise WebhookVerificationError("no secret")
            _VERIFIER.verify(b"".join(chunks), headers)
        except WebhookVerificationError:
            answer = _BAD
    await send(answer[0])
    await send(answer[1])
