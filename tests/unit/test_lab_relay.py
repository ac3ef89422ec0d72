"""The lab's relay (a node's path to the API server) adds no delayed-ACK stall to an HTTP exchange."""

from __future__ import annotations

import asyncio
import socket
import threading
import time

from floatnet.lab import relay

EXCHANGES = 30


def _split_writer() -> tuple[socket.socket, threading.Thread]:
    """A server answering every 1-byte request with two writes 2 ms apart (headers, then body, as uvicorn
    writes them): the relay forwards them as two writes."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            while conn.recv(1):
                conn.sendall(b"H" * 100)
                time.sleep(0.002)
                conn.sendall(b"B" * 100)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return server, thread


def _relay(upstream_port: int) -> int:
    """``relay.serve`` on a listener made like :func:`relay.listener`'s (protocol 0), in a daemon thread (it
    serves until the test process exits, as the lab's relay until its node fails)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    threading.Thread(target=asyncio.run, args=(relay.serve(sock, "127.0.0.1", upstream_port),), daemon=True).start()
    return int(sock.getsockname()[1])


def test_relayed_answers_written_in_two_pieces_are_not_delayed() -> None:
    """With Nagle's algorithm on the relay's sockets every exchange waited 40 ms for the client's delayed
    ACK of the first piece: 30 exchanges took over 1 s; they take about 0.1 s."""
    server, _thread = _split_writer()
    port = _relay(server.getsockname()[1])
    try:
        with socket.create_connection(("127.0.0.1", port)) as client:
            started = time.monotonic()
            for _ in range(EXCHANGES):
                client.sendall(b"?")
                got = b""
                while len(got) < 200:
                    got += client.recv(4096)
            took = time.monotonic() - started
        assert took < 0.6, f"{EXCHANGES} relayed exchanges took {took:.3f} s"
    finally:
        server.close()
