"""Simulated agents for ``bench/feed_scale.py``: asyncio clients speaking the real agent protocol, no dataplane.

Each :class:`SimAgent` does what ``floatnet agent`` does over HTTP (docs/agent-protocol.md): registers its three
agent rows, heartbeats every ``report_interval``, lists its full state once, then long-polls its change feed;
for each answer it refetches the touched routers/networks exactly as the real agent decides
(:func:`floatnet.agent.merge.touched`) and reports what it "built" as ACTIVE. :class:`Tally` collects what the
bench reports: answers, state fetches, and when each change first reached each host.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from floatnet.agent.client import AGENT_TYPES, ZONED_TYPES
from floatnet.agent.merge import touched

BASE = "/v2.0/floatnet"
POLL_TIMEOUT = 25


@dataclass
class Tally:
    """Counters shared by every simulated agent (one event loop: no locks)."""

    answers: int = 0  # poll answers carrying changes
    empty_answers: int = 0  # poll answers at their timeout
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
    """One simulated node (see the module docstring)."""

    def __init__(self, client: httpx.AsyncClient, host: str, interval: float, tally: Tally) -> None:
        self.client, self.host, self.interval, self.tally = client, host, interval, tally
        self.seq = 0

    async def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, retried on transport errors as the real client does (a pooled keep-alive connection
        the server closed meanwhile is not a failure)."""
        for attempt in range(3):
            try:
                return await self.client.request(method, path, **kwargs)
            except httpx.TransportError:
                if attempt == 2:
                    raise
                await asyncio.sleep(0.1 * 2**attempt)
        raise AssertionError("unreachable")

    async def register(self) -> None:
        for agent_type in AGENT_TYPES:
            agent: dict[str, Any] = {"host": self.host, "agent_type": agent_type, "binary": "feed-scale-sim",
                                     "configurations": {"routers": 0, "networks": 0}}  # fmt: skip
            if agent_type in ZONED_TYPES:
                agent["availability_zone"] = "nova"
            response = await self.call("POST", f"{BASE}/agents", json={"agent": agent})
            response.raise_for_status()

    async def heartbeat(self) -> None:
        """Report every ``interval`` seconds, the first one at a random phase (agents start spread out)."""
        await asyncio.sleep(random.uniform(0, self.interval))
        while True:
            try:
                await self.register()
                self.tally.heartbeats += 1
            except httpx.HTTPError as exc:
                self.tally.errors.append(f"{self.host} heartbeat: {exc!r}")
            await asyncio.sleep(self.interval)

    async def list_state(self) -> None:
        response = await self.call("GET", f"{BASE}/hosts/{self.host}/state")
        response.raise_for_status()
        self.seq = int(response.json()["seq"])

    async def follow(self) -> None:
        """Long-poll forever, reacting to each answer as the real agent does."""
        while True:
            params = {"after": self.seq, "timeout": POLL_TIMEOUT}
            try:
                response = await self.call("GET", f"{BASE}/hosts/{self.host}/changes", params=params,
                                           timeout=POLL_TIMEOUT + 30)  # fmt: skip
                response.raise_for_status()
            except httpx.HTTPError as exc:
                self.tally.errors.append(f"{self.host} poll: {exc!r}")
                await asyncio.sleep(1.0)
                continue
            body = response.json()
            self.seq = max(self.seq, int(body["seq"]))
            rows = [row for row in body["changes"] if row.get("op") != "status"]
            if not rows:
                self.tally.empty_answers += 1
                continue
            self.tally.seen(self.host, rows, time.monotonic())
            await self.react(rows)

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
        response = await self.call("GET", f"{BASE}/hosts/{self.host}/state", params=params)
        if response.status_code != 200:
            self.tally.errors.append(f"{self.host} state: {response.status_code}")
            return
        await self.report(response.json())

    async def report(self, state: dict[str, Any]) -> None:
        fips = {f["id"]: "ACTIVE" for r in state["routers"] for f in r["floatingips"] if f["status"] != "ACTIVE"}
        ports = {p["id"]: "ACTIVE" for p in state["ports"] if p["status"] != "ACTIVE"}
        body = {kind: values for kind, values in (("floatingips", fips), ("ports", ports)) if values}
        if body:
            await self.call("PUT", f"{BASE}/hosts/{self.host}/status", json=body)
