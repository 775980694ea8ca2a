"""The listening socket `zalohub serve` binds itself and hands to uvicorn
(``uvicorn.Server.serve(sockets=[...])``), and how a drain stops new connections on it.

Closing a listening socket resets the connections the kernel completed and queued for it
and nobody accepted yet: their requests would be sent, then lost unanswered. So a drain
first stops the kernel from completing new connections (``refuse_new_connections``),
leaves the server a moment to accept those already queued, and only then lets uvicorn
close the socket. A connection tried meanwhile gets no answer to its first SYN; its
client sends it again (after a second on Linux) and, the socket closed by then, is
refused: a proxy or Zalo tries again elsewhere or later, and nothing was read.
"""

import ctypes
import socket
import struct
import sys

# Linux's SO_ATTACH_FILTER (socket(7)); Python's socket module does not name it.
_SO_ATTACH_FILTER = 26
# A classic BPF program of one instruction, BPF_RET|BPF_K with k=0: keep 0 bytes of
# every packet, i.e. drop it. On a listening socket this drops the packets of new
# connections (their SYNs); connections already made have sockets of their own.
_DROP_ALL = struct.pack("=HBBI", 0x06, 0, 0, 0)


def bind(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)  # the server processes of `--workers N` share it
    return sock


def refuse_new_connections(sock: socket.socket) -> None:
    """From now on the kernel completes no new connection on ``sock`` (nor on any copy
    of it in another process: they share one socket). Queued ones can still be accepted.
    Elsewhere than Linux this does nothing: closing the socket refuses new connections,
    and resets the few queued in the moment before."""
    if not sys.platform.startswith("linux"):
        return
    program = ctypes.create_string_buffer(_DROP_ALL)
    # struct sock_fprog {unsigned short len; struct sock_filter *filter;}; the kernel
    # copies the program during the call, so the buffer may go afterwards.
    fprog = struct.pack("@HP", 1, ctypes.addressof(program))
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
