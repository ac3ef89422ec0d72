"""A node's path to the API server: TCP from ``127.0.0.1:PORT`` inside the node's namespace to the server.

The server listens on the host's loopback; a node is a namespace of its own, whose loopback is not the host's,
and the lab adds no address or route to the host. So the lab runs this relay in the host's namespace with its
listening socket opened inside the node's (a socket stays in the namespace it was created in), and the node's
agent is pointed at ``http://127.0.0.1:PORT`` as on a single node (the server's ``Host`` check sees the
address it is bound to). One relay per powered-on node; ``node fail`` kills it with the node's processes.

``python -m floatnet.lab.relay NODE_NETNS LISTEN_PORT TARGET_HOST TARGET_PORT``
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
from typing import Any

from floatnet.linux import netns


def listener(ns: str, port: int) -> socket.socket:
    """A listening TCP socket on ``127.0.0.1:port`` inside namespace ``ns``."""

    def body() -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
        return sock

    return netns.run_in(ns, body)


def no_delay(sock: Any) -> None:
    """Send every write at once (``TCP_NODELAY``) on a relayed connection's socket.

    A relay forwards each piece of an HTTP answer as it comes (the server writes the headers and the body
    separately). With Nagle's algorithm on — asyncio turns it off only on sockets made with ``IPPROTO_TCP``,
    not on those accepted from :func:`listener`'s — the body waits until the agent acknowledges the headers,
    and the agent delays that ACK by 40 ms: every tenth long-poll answer or state fetch through the relay took
    40 ms more (issue 14's multi-node associate path; measured p90 48 ms against 3 ms without the relay)."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            writer.close()


async def serve(sock: socket.socket, host: str, port: int) -> None:
    """Relay every connection accepted on ``sock`` to ``host``:``port`` until cancelled."""

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            writer.close()
            return
        for end in (writer, up_writer):
            no_delay(end.get_extra_info("socket"))
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    server = await asyncio.start_server(relay, sock=sock)
    async with server:
        await server.serve_forever()


def main(argv: list[str]) -> int:
    ns, listen_port, host, port = argv[0], int(argv[1]), argv[2], int(argv[3])
    asyncio.run(serve(listener(ns, listen_port), host, port))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
