"""The loopback receiver of bench/webhook_delivery.py, served by uvicorn (uvloop and
httptools, no Django): it reads the body and answers 200, as `bare_asgi` does, and a
request that carries a `webhook-signature` is verified first with the `standardwebhooks`
verifier and the secret in BENCH_WEBHOOK_SECRET: every delivery of the hub, none of the
bare loop's unsigned POSTs. A signature that does not verify answers 400, so the
delivery is retried and never counted as delivered: the bench's "n of n delivered" check
is also "n of n verified"."""

import os

from standardwebhooks import Webhook, WebhookVerificationError

OK = b'{"ok": true}'
BAD = b'{"ok": false}'
_SECRET = os.environ.get("BENCH_WEBHOOK_SECRET", "")
_VERIFIER = Webhook(_SECRET) if _SECRET else None


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
    answer = _OK
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
    if "webhook-signature" in headers:
        try:
            if _VERIFIER is None:
                raise WebhookVerificationError("no secret")
            _VERIFIER.verify(b"".join(chunks), headers)
        except WebhookVerificationError:
            answer = _BAD
    await send(answer[0])
    await send(answer[1])
