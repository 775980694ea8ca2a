"""The listening socket `zalohub serve` binds itself and hands to uvicorn
(``uvicorn.Server.serve(sockets=[...])``), and how a drain stops new connections on it.

Closing a listening socket resets the connections the kernel completed and queued for it
and nobody accepted yet: their requests would be sent, then lost unanswered. So a drain
first stops the kernel from starting new connections (``refuse_new_connections``),
leaves the server a moment to accept those already queued, and only then lets uvicorn
close the socket. A connection tried meanwhile gets no answer to its first SYN; its
client sends it again (after a second on Linux) and, the socket closed by then, is
refused: a proxy or Zalo tries again elsewhere or later, and nothing was read.

A connection whose handshake was under way when the drain began is let through: its
client already counts it made (it had the server's SYN-ACK) and sends its request, so
the packet that completes it on the server's side (the handshake's last ACK, or the
request itself) must reach the socket; it is then queued and accepted like the others.
Dropped, that client's request would be reset unanswered when the socket closed: across
a network, where a handshake takes a round trip, every drain would meet a few.
"""

import ctypes
import socket
import struct
import sys

# Linux's SO_ATTACH_FILTER (socket(7)); Python's socket module does not name it.
_SO_ATTACH_FILTER = 26
# A classic BPF program (struct sock_filter: code, jt, jf, k) run on each packet that
# reaches the listening socket, which on a TCP socket starts at the TCP header:
# connections already accepted have sockets of their own. It keeps a packet with the
# ACK flag (a handshake under way: its last ACK, or the request behind it) and drops
# the others, a new connection's SYN above all.
_TCP_FLAGS = 13  # the byte of the TCP header holding the flags
_ACK = 0x10
_KEEP_ACKS = b"".join(
    struct.pack("=HBBI", code, jt, jf, k)
    for code, jt, jf, k in (
        (0x30, 0, 0, _TCP_FLAGS),  # BPF_LD|BPF_B|BPF_ABS: the flags' byte
        (0x45, 1, 0, _ACK),  # BPF_JMP|BPF_JSET|BPF_K: ACK set? keep (skip one) : drop
        (0x06, 0, 0, 0),  # BPF_RET|BPF_K: keep 0 bytes, i.e. drop it
        (0x06, 0, 0, 0xFFFFFFFF),  # BPF_RET|BPF_K: keep all of it
    )
)


def bind(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)  # the server processes of `--workers N` share it
    return sock


def refuse_new_connections(sock: socket.socket) -> None:
    """From now on the kernel starts no new connection on ``sock`` (nor on any copy of
    it in another process: they share one socket); the handshakes under way complete,
    and queued connections can still be accepted. Elsewhere than Linux this does
    nothing: closing the socket refuses new connections, and resets the few queued in
    the moment before."""
    if not sys.platform.startswith("linux"):
        return
    program = ctypes.create_string_buffer(_KEEP_ACKS)
    # struct sock_fprog {unsigned short len; struct sock_filter *filter;}; the kernel
    # copies the program during the call, so the buffer may go afterwards.
    fprog = struct.pack("@HP", len(_KEEP_ACKS) // 8, ctypes.addressof(program))
    sock.setsockopt(socket.SOL_SOCKET, _SO_ATTACH_FILTER, fprog)
