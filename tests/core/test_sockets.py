"""`zalohub serve`'s drain on its listening socket (``serving.sockets``): no new
connection is started, and the connections under way are accepted and served, not
reset when the socket closes. Linux only (the filter does nothing elsewhere)."""

import socket
import sys

import pytest

from zalohub.serving import sockets

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the drain's filter is Linux's"
)

REQUEST = b"POST /zalo/webhook/1/ HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"


@pytest.fixture
def listener():
    sock = sockets.bind("127.0.0.1", 0, 16)
    yield sock
    sock.close()


def _client(listener: socket.socket, timeout: float) -> socket.socket:
    client = socket.socket()
    client.settimeout(timeout)
    client.connect(listener.getsockname())
    return client


def _served(listener: socket.socket, client: socket.socket) -> None:
    """The request is accepted and read on the server's side, and answered."""
    client.sendall(REQUEST)
    listener.settimeout(2.0)
    accepted, _ = listener.accept()
    assert accepted.recv(len(REQUEST)) == REQUEST
    accepted.sendall(b"HTTP/1.1 200 OK\r\n\r\n")
    accepted.close()
    assert client.recv(100).startswith(b"HTTP/1.1 200")
    client.close()


# The filter reads the TCP header's flags: from 127.16.0.1 the byte at the same offset
# of the IPv4 header (the source address's second byte, 16) would read as ACK.
@pytest.mark.parametrize("source", ["127.0.0.1", "127.16.0.1"])
def test_a_drained_socket_starts_no_new_connection(listener, source):
    _client(listener, 2.0).close()  # before the drain, a connection is made
    accepted, _ = listener.accept()
    accepted.close()
    sockets.refuse_new_connections(listener)
    client = socket.socket()
    client.bind((source, 0))
    client.settimeout(0.5)
    # Its SYN is dropped: no answer (it would be refused once the socket is closed).
    with pytest.raises(TimeoutError):
        client.connect(listener.getsockname())
    client.close()


def test_a_connection_queued_before_the_drain_is_accepted_and_served(listener):
    client = _client(listener, 2.0)
    sockets.refuse_new_connections(listener)
    _served(listener, client)


def test_a_handshake_under_way_when_the_drain_begins_is_served_not_reset(listener):
    # TCP_DEFER_ACCEPT keeps the server's side of the handshake open until data comes:
    # the client counts itself connected (it had the SYN-ACK) while the socket has not
    # taken the packet that completes it, as across a network for a round trip.
    listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 5)
    client = _client(listener, 2.0)
    sockets.refuse_new_connections(listener)
    # Its request completes the handshake on the server's side: it should be queued and
    # accepted (with every packet dropped, it is not, and the socket's close resets the
    # client, its request unread).
    _served(listener, client)
