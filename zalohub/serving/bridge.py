"""A WSGI application served to an ASGI server, on a bounded pool of threads.

What `uvicorn --interface wsgi` does (and what the webhook figures in bench/README.md
were measured on), kept here because uvicorn deprecates its own copy: the request body
is read on the event loop, the application runs on one of ``threads`` threads, and a
response that fits in memory goes back to the loop in one piece. Requests beyond
``threads`` wait in the pool's queue, so the pool bounds the threads and the database
connections a process uses for everything but the streams (``zalohub.serving.front``).
"""

import asyncio
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

Environ = dict[str, Any]
Headers = list[tuple[bytes, bytes]]
Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
WsgiApp = Callable[[Environ, Callable[..., Any]], Iterable[bytes]]

# A response body up to this size is collected on the thread and sent in one message;
# a longer one (a file, an export) is sent on as it is produced, the thread waiting for
# the client to take each piece.
BUFFER_BYTES = 256 * 1024
# A request body up to this size stays in memory (Django's FILE_UPLOAD_MAX_MEMORY_SIZE
# default); a longer one goes to a temporary file, as Django's ASGI handler does.
SPOOL_BYTES = 2_621_440


def environ_of(scope: Scope, body: IO[bytes]) -> Environ:
    script_name = scope.get("root_path", "").encode().decode("latin1")
    path = scope["path"].encode().decode("latin1")
    if script_name and path.startswith(script_name):
        path = path[len(script_name) :]
    server = scope.get("server") or ("localhost", 80)
    environ: Environ = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path,
        "QUERY_STRING": scope["query_string"].decode("ascii"),
        "SERVER_NAME": server[0],
        "SERVER_PORT": str(server[1]),
        "SERVER_PROTOCOL": f"HTTP/{scope['http_version']}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if client := scope.get("client"):
        environ["REMOTE_ADDR"] = client[0]
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin1").upper().replace("-", "_")
        key = name if name in ("CONTENT_LENGTH", "CONTENT_TYPE") else f"HTTP_{name}"
        value = raw_value.decode("latin1")
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


async def read_body(receive: Receive) -> IO[bytes]:
    # Closed by the caller once the application has read it.
    body: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES, mode="w+b")  # noqa: SIM115
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            body.close()
            raise ConnectionResetError("client went away before its request ended")
        body.write(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body.seek(0)
    return body


class _Responder:
    """One request's trip through the pool."""

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Send) -> None:
        self.loop = loop
        self.send = send
        self.start: dict[str, Any] | None = None
        self.started = False  # the start message was sent from the thread

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None and self.started:
            raise exc_info[1].with_traceback(exc_info[2])
        self.start = {
            "type": "http.response.start",
            "status": int(status.split(" ", 1)[0]),
            "headers": [(k.lower().encode("latin1"), v.encode("latin1")) for k, v in headers],
        }
        return self._write_unsupported

    @staticmethod
    def _write_unsupported(data: bytes) -> None:
        raise NotImplementedError("the WSGI write() callable is not supported")

    def _send_from_thread(self, message: dict[str, Any]) -> None:
        async def sending() -> None:
            await self.send(message)

        asyncio.run_coroutine_threadsafe(sending(), self.loop).result()

    def run(self, app: WsgiApp, environ: Environ) -> list[bytes]:
        """Call the app on this thread; what is left of the body to send (in order)."""
        result = app(environ, self.start_response)
        pending: list[bytes] = []
        size = 0
        try:
            for chunk in result:
                if not chunk:
                    continue
                pending.append(chunk)
                size += len(chunk)
                if size > BUFFER_BYTES:  # a long body: send what we have, wait, go on
                    if not self.started:
                        assert self.start is not None
                        self._send_from_thread(self.start)
                        self.started = True
                    body = b"".join(pending)
                    pending, size = [], 0
                    self._send_from_thread(
                        {"type": "http.response.body", "body": body, "more_body": True}
                    )
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()  # Django's request_finished: connections go back here
        return pending


class WsgiBridge:
    """An ASGI application that runs ``app`` (WSGI) on at most ``threads`` threads."""

    def __init__(self, app: WsgiApp, *, threads: int, name: str = "zalohub-web") -> None:
        self.app = app
        self.threads = threads
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await read_body(receive)
        except ConnectionResetError:
            return  # nobody to answer
        loop = asyncio.get_running_loop()
        responder = _Responder(loop, send)
        try:
            rest = await loop.run_in_executor(
                self.pool, responder.run, self.app, environ_of(scope, body)
            )
        finally:
            body.close()
        if not responder.started:
            assert responder.start is not None, "the WSGI app did not call start_response"
            await send(responder.start)
        await send({"type": "http.response.body", "body": b"".join(rest), "more_body": False})

    def close(self) -> None:
        self.pool.shutdown(wait=True)
