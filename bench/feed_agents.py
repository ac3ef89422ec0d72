"""Simulated agents for ``bench/feed_scale.py``: asyncio clients speaking the real agent protocol, no dataplane.

Each :class:`SimAgent` does what ``floatnet agent`` does over HTTP (docs/agent-protocol.md): registers its agent
rows (one request per report, or one per row with ``per_row``: the protocol before issue 16), heartbeats every
``report_interval``, lists its full state once, then long-polls its change feed; for each answer it refetches
the touched routers/networks exactly as the real agent decides (:func:`floatnet.agent.merge.touched`) and reports
what it "built" as ACTIVE. :class:`Tally` collects what the bench reports: answers, state fetches, and when
each change first reached each host.

A thousand agents must cost the simulator less than the server they measure (on 2 shared cores an httpx client
per agent starved it: 10 % of the heartbeats went out). So each agent holds two raw HTTP/1.1 keep-alive
connections (:class:`Http`: one for its long poll, one for everything else, as the real agent's threads do),
on one event loop, with no per-request client machinery.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

from floatnet.agent.client import AGENT_TYPES, report_body
from floatnet.agent.merge import touched

BASE = "/v2.0/floatnet"
POLL_TIMEOUT = 25
IDLE_EXPIRY = 4.0  # uvicorn closes a connection idle for 5 s: reconnect before sending on one that old


class HttpError(Exception):
    """A request that failed: no answer after retries, or (``status``) an answer other than 2xx."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class Http:
    """One HTTP/1.1 keep-alive connection to ``url`` speaking JSON; reconnected when idle too long or closed.

    A request is retried (twice) only when the connection failed before an answer: the server closes only
    idle connections, so nothing was processed."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0.0
        self.busy = asyncio.Lock()  # one request at a time: a heartbeat and a refetch share the connection

    async def request(self, method: str, path: str, body: Any = None, params: Any = None,
                      timeout: float = 120) -> tuple[int, Any]:  # fmt: skip
        """``(status, decoded JSON body or None)``; :class:`HttpError` when no answer came."""
        async with self.busy:
            return await self._exchange(method, path, body, params, timeout)

    async def _exchange(self, method: str, path: str, body: Any, params: Any, timeout: float) -> tuple[int, Any]:
        target = f"{path}?{urlencode(params)}" if params else path
        data = json.dumps(body).encode() if body is not None else b""
        head = (f"{method} {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json"
                f"\r\nContent-Length: {len(data)}\r\n\r\n").encode()  # fmt: skip
        for attempt in range(3):
            try:
                if self.writer is None or time.monotonic() - self.used > IDLE_EXPIRY:
                    await self._connect()
                assert self.writer is not None
                self.writer.write(head + data)
                status, payload = await asyncio.wait_for(self._answer(), timeout)
                self.used = time.monotonic()
                return status, json.loads(payload) if payload else None
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
                self.close()
                if attempt == 2 or isinstance(exc, TimeoutError):
                    raise HttpError(f"{method} {path}: {exc!r}") from exc
                await asyncio.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    async def call(self, method: str, path: str, body: Any = None, params: Any = None, timeout: float = 120) -> Any:
        """The decoded body of a 2xx answer; :class:`HttpError` otherwise."""
        status, payload = await self.request(method, path, body, params, timeout)
        if not 200 <= status < 300:
            raise HttpError(f"{method} {path}: {status} {payload}", status)
        return payload

    async def _connect(self) -> None:
        self.close()
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    async def _answer(self) -> tuple[int, bytes]:
        assert self.reader is not None
        status_line = await self.reader.readline()
        if not status_line:
            raise asyncio.IncompleteReadError(b"", None)
        status, length, closing = int(status_line.split()[1]), 0, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                closing = True
        payload = await self.reader.readexactly(length) if length else b""
        if closing:
            self.close()
        return status, payload

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


@dataclass
class Tally:
    """Counters shared by every simulated agent (one event loop: no locks)."""

    answers: int = 0  # poll answers carrying changes
    empty_answers: int = 0  # poll answers at their timeout
    expiries: list[float] = field(default_factory=list)  # when each of those came (monotonic)
    fetches: int = 0  # filtered state GETs caused by answers
    heartbeats: int = 0
    errors: list[str] = field(default_factory=list)
    api: list[float] = field(default_factory=list)  # seconds of each driving API write
    arrivals: dict[tuple[str, str], float] = field(default_factory=dict)  # (change id, host) -> first answer
    counting: bool = False

    def seen(self, host: str, rows: list[dict[str, Any]], at: float) -> None:
        """An answer for ``host`` arrived at ``at`` (counted, and its rows' first arrival kept, while driving)."""
        if not self.counting:
            return
        self.answers += 1
        for row in rows:
            self.arrivals.setdefault((str(row.get("id")), host), at)


class SimAgent:
    """One simulated node (see the module docstring) of the server at ``url``."""

    def __init__(self, url: str, host: str, interval: float, tally: Tally, per_row: bool = False) -> None:
        self.rpc, self.poll = Http(url), Http(url)
        self.host, self.interval, self.tally, self.per_row = host, interval, tally, per_row
        self.seq = 0

    async def register(self) -> None:
        body = report_body(self.host, AGENT_TYPES, {"routers": 0, "networks": 0}, "nova", binary="feed-scale-sim")
        if not self.per_row:
            await self.rpc.call("POST", f"{BASE}/agents", body)
            return
        for agent in body["agents"]:
            await self.rpc.call("POST", f"{BASE}/agents", {"agent": agent})

    async def heartbeat(self) -> None:
        """Report every ``interval`` seconds, the first one at a random phase (agents start spread out)."""
        await asyncio.sleep(random.uniform(0, self.interval))
        while True:
            try:
                await self.register()
                self.tally.heartbeats += 1
            except HttpError as exc:
                self.tally.errors.append(f"{self.host} heartbeat: {exc}")
            await asyncio.sleep(self.interval)

    async def list_state(self) -> None:
        self.seq = int((await self.rpc.call("GET", f"{BASE}/hosts/{self.host}/state"))["seq"])

    async def follow(self) -> None:
        """Long-poll forever, reacting to each answer as the real agent does."""
        while True:
            params = {"after": self.seq, "timeout": POLL_TIMEOUT}
            try:
                body = await self.poll.call("GET", f"{BASE}/hosts/{self.host}/changes", params=params,
                                            timeout=POLL_TIMEOUT + 30)  # fmt: skip
            except HttpError as exc:
                self.tally.errors.append(f"{self.host} poll: {exc}")
                await asyncio.sleep(1.0)
                continue
            self.seq = max(self.seq, int(body["seq"]))
            rows = [row for row in body["changes"] if row.get("op") != "status"]
            if not rows:
                self.tally.empty_answers += 1
                self.tally.expiries.append(time.monotonic())
                continue
            self.tally.seen(self.host, rows, time.monotonic())
            try:
                await self.react(rows)
            except HttpError as exc:
                self.tally.errors.append(f"{self.host} refetch: {exc}")

    async def react(self, rows: list[dict[str, Any]]) -> None:
        """Refetch what the rows touch (the agent's own narrowing) and report it ACTIVE."""
        batch = touched(rows)
        if not (batch.routers or batch.networks or batch.gone_ports):
            return
        params = [("router_id", r) for r in sorted(batch.routers)] + [("network_id", n) for n in sorted(batch.networks)]
        if batch.fips_only:
            params += [("floatingip_id", f) for ids in batch.fips.values() for f in sorted(ids)]
        if self.tally.counting:
            self.tally.fetches += 1
        state = await self.rpc.call("GET", f"{BASE}/hosts/{self.host}/state", params=params)
        fips = {f["id"]: "ACTIVE" for r in state["routers"] for f in r["floatingips"] if f["status"] != "ACTIVE"}
        ports = {p["id"]: "ACTIVE" for p in state["ports"] if p["status"] != "ACTIVE"}
        body = {kind: values for kind, values in (("floatingips", fips), ("ports", ports)) if values}
        if body:
            await self.rpc.call("PUT", f"{BASE}/hosts/{self.host}/status", body)

    def close(self) -> None:
        self.rpc.close()
        self.poll.close()
