"""Tiny TCP servers and clients the lab runs inside its namespaces (``python -m floatnet.lab.probe …``).

Servers: ``serve --echo HOST:PORT --whoami HOST:PORT --push HOST:PORT --label NAME`` — echo returns every byte;
whoami reads a request head and answers one HTTP/1.0 response whose body is ``{"peer": <client ip>, "server":
NAME}``, so a client learns the source address it was seen with (SNAT proofs) and which namespace answered (FIP
moves); push sends numbered lines (``0\n``, ``1\n``…, :func:`push_line`) every :data:`PUSH_INTERVAL` until the
client goes, without reading: the server is the talking side, as in an HA takeover that needs the router's
synced conntrack entry (``bench/ha_failover.py``; :func:`push_lines` and :func:`push_verdict` are its receiver's).

Clients (exit status 0 only on success; JSON on stdout): ``get HOST PORT`` — one whoami exchange; ``rate HOST
PORT --rate R --duration D`` — R echo connects per second for D seconds, reports failures; ``session HOST PORT
--duration D`` — one long echo session, reports the wall clock time of its last successful round trip
(disassociation proofs).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
import time
from collections.abc import Sequence
from typing import Any

CONNECT_TIMEOUT = 1.0
PUSH_INTERVAL = 0.02  # a pushed line every 20 ms: the server always has unacknowledged data in a takeover


def push_line(number: int) -> bytes:
    """The push server's frame ``number``: its decimal digits and a newline."""
    return b"%d\n" % number


def push_lines(buffer: bytes) -> tuple[list[int], bytes]:
    """The complete frames at the start of ``buffer`` as numbers, and the incomplete rest (the next read's start)."""
    *lines, rest = buffer.split(b"\n")
    return [int(line) for line in lines], rest


def push_verdict(numbers: list[int], arrivals: list[float], error: str | None, after: float) -> dict[str, Any]:
    """Whether a pushed session survived a takeover at ``after`` (wall clock), judged at the receiver from the
    frames it read (``numbers``, each read's time in ``arrivals``) and why reading ended (``error``; None: the
    receiver stopped it): frames went on arriving after the takeover, in sequence from 0 with none missing (TCP
    would never skip one; a new session's would restart at 0), and the session was not reset or closed."""
    late = sum(1 for at in arrivals if at > after)
    in_order = numbers == list(range(len(numbers)))
    return {"survived": error is None and in_order and late > 0, "frames": len(numbers),
            "reads_after_takeover": late, "in_order": in_order, "error": error}  # fmt: skip


async def _echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


async def _push(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    number = 0
    try:
        while True:
            writer.write(push_line(number))
            await writer.drain()
            number += 1
            await asyncio.sleep(PUSH_INTERVAL)
    except (ConnectionError, OSError):
        pass
    finally:
        writer.close()


def _whoami(label: str):  # noqa: ANN202 - returns an asyncio stream handler
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(
            asyncio.TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError
        ):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2.0)
        peer = writer.get_extra_info("peername")[0]
        body = json.dumps({"peer": peer, "server": label}).encode() + b"\n"
        head = f"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        try:
            writer.write(head.encode() + body)
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        writer.close()

    return handle


def _split_addr(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "0.0.0.0", int(port)


async def serve(echo: list[str], whoami: list[str], label: str, push: Sequence[str] = ()) -> None:
    """Serve until killed."""
    servers = []
    for addresses, handler in ((echo, _echo), (whoami, _whoami(label)), (push, _push)):
        for addr in addresses:
            host, port = _split_addr(addr)
            servers.append(await asyncio.start_server(handler, host, port, reuse_address=True))
    print(json.dumps({"serving": [*echo, *whoami, *push], "label": label}), flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


async def get(host: str, port: int, timeout: float) -> dict[str, str]:
    """One whoami exchange; raises on any failure."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout)
    finally:
        writer.close()
    body = data.split(b"\r\n\r\n", 1)[1]
    return json.loads(body)


async def _echo_once(host: str, port: int, timeout: float) -> None:
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    try:
        writer.write(b"ping\n")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout)
        if line != b"ping\n":
            raise ConnectionError(f"bad echo {line!r}")
    finally:
        writer.close()


async def rate(host: str, port: int, per_second: float, duration: float) -> dict[str, object]:
    """``per_second`` echo connects for ``duration`` seconds, each on its own schedule slot (no slipping)."""
    interval = 1.0 / per_second
    count = int(duration * per_second)
    start = time.monotonic()
    failures: list[dict[str, object]] = []

    async def attempt(i: int) -> None:
        await asyncio.sleep(max(0.0, start + i * interval - time.monotonic()))
        try:
            await _echo_once(host, port, CONNECT_TIMEOUT)
        except (TimeoutError, OSError, ConnectionError) as exc:
            failures.append({"at": time.time(), "error": repr(exc)})

    await asyncio.gather(*(attempt(i) for i in range(count)))
    return {"attempts": count, "failures": len(failures), "failed": failures}


async def session(host: str, port: int, interval: float, duration: float) -> dict[str, object]:
    """One echo session; returns the wall time of its last good round trip and why it ended."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), CONNECT_TIMEOUT)
    last_ok, rounds, reason = None, 0, "duration"
    print(json.dumps({"connected": time.time()}), flush=True)
    end = time.monotonic() + duration
    try:
        while time.monotonic() < end:
            writer.write(b"ping\n")
            await writer.drain()
            if await asyncio.wait_for(reader.readline(), 1.0) != b"ping\n":
                reason = "closed"
                break
            last_ok, rounds = time.time(), rounds + 1
            await asyncio.sleep(interval)
    except (TimeoutError, OSError, ConnectionError) as exc:
        reason = repr(exc)
    finally:
        writer.close()
    return {"last_ok": last_ok, "rounds": rounds, "ended": time.time(), "reason": reason}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m floatnet.lab.probe")
    sub = parser.add_subparsers(dest="cmd", required=True)
    srv = sub.add_parser("serve")
    srv.add_argument("--echo", action="append", default=[])
    srv.add_argument("--whoami", action="append", default=[])
    srv.add_argument("--push", action="append", default=[])
    srv.add_argument("--label", default="")
    for name in ("get", "rate", "session"):
        client = sub.add_parser(name)
        client.add_argument("host")
        client.add_argument("port", type=int)
        client.add_argument("--timeout", type=float, default=2.0)
        client.add_argument("--rate", type=float, default=20.0)
        client.add_argument("--duration", type=float, default=5.0)
        client.add_argument("--interval", type=float, default=0.05)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.cmd == "serve":
        asyncio.run(serve(args.echo, args.whoami, args.label, args.push))
        return 0
    try:
        if args.cmd == "get":
            result: dict[str, object] = dict(asyncio.run(get(args.host, args.port, args.timeout)))
        elif args.cmd == "rate":
            result = asyncio.run(rate(args.host, args.port, args.rate, args.duration))
        else:
            result = asyncio.run(session(args.host, args.port, args.interval, args.duration))
    except (TimeoutError, OSError, ConnectionError, ValueError) as exc:
        print(json.dumps({"error": repr(exc)}))
        return 1
    print(json.dumps(result))
    return 1 if result.get("failures") else 0


if __name__ == "__main__":
    sys.exit(main())
