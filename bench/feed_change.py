"""Server CPU of one change end to end, in one process, one request at a time (issue 16's CPU per change).

``bench/feed_scale.py`` measures a real server under N simulated agents, but on a shared machine its CPU per
change moves with the load (queues, batching, the idle rate it subtracts). This bench measures the same work
without sockets or concurrency, so that two builds can be compared on a busy machine: an app built in this
process (SQLite in a temp dir, the same topology as feed_scale: N registered agents, max(10, N/10) routers
each with a DHCP network), then ``--changes`` changes alternating a floating-IP association and a bound port
create, each followed by what every concerned agent does — read its feed, refetch what the rows touch
(:func:`floatnet.agent.merge.touched`, narrowed as the agent narrows) and report the new statuses. Requests go
through the whole ASGI app (guard, routing, auth, handlers, the thread hop), not through HTTP.
Run: ``.venv/bin/python bench/feed_change.py [--agents 100] [--changes 300]``; ``PYTHONPATH=DIR`` runs another
checkout's server code. Prints JSON: the process CPU per change.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import feed_scale  # bench/feed_scale.py (the script's directory is on sys.path)

from floatnet.agent.client import AGENT_TYPES, report_body
from floatnet.agent.merge import touched
from floatnet.api.app import create_app
from floatnet.api.serve import tune_gc
from floatnet.config import load

FEED = "/v2.0/floatnet"


class App:
    """The app of a fresh config, called in-process (``call``) or synchronously (``create``/``call_sync``: the
    :class:`floatnet.client.Client` methods feed_scale's topology helpers use)."""

    def __init__(self, state: Path) -> None:
        ini = state / "bench.ini"
        ini.write_text(feed_scale.INI.format(interval=30))
        self.config = load(ini, state / "state")
        self.app = create_app(self.config)
        self.host = f"{self.config.bind_host}:{self.config.bind_port}".encode()
        self.loop = asyncio.new_event_loop()

    async def call(self, method: str, path: str, body: Any = None, params: Any = None) -> Any:
        """One request through the ASGI app; the decoded answer (AssertionError unless 2xx)."""
        raw = json.dumps(body).encode() if body is not None else b""
        headers = [(b"host", self.host)] + ([(b"content-type", b"application/json")] if body is not None else [])
        scope = {"type": "http", "http_version": "1.1", "method": method, "scheme": "http", "path": path,
                 "raw_path": path.encode(), "query_string": urlencode(params or [], doseq=True).encode(),
                 "headers": headers, "server": ("127.0.0.1", self.config.bind_port), "client": ("127.0.0.1", 1),
                 "root_path": "", "app": self.app}  # fmt: skip
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": raw, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        payload = b"".join(message.get("body", b"") for message in sent[1:])
        assert 200 <= sent[0]["status"] < 300, (method, path, sent[0]["status"], payload[:300])
        return json.loads(payload) if payload else None

    def create(self, kind: str, **body: Any) -> dict[str, Any]:
        plural = {"security_group": "security-groups", "security_group_rule": "security-group-rules"}
        answer = self.call_sync("POST", f"/{plural.get(kind, kind + 's')}", {kind: body})
        return dict(answer[kind])

    def call_sync(self, method: str, path: str, body: Any = None) -> Any:
        return self.loop.run_until_complete(self.call(method, "/v2.0" + path, body))

    async def report(self, hosts: list[str]) -> None:
        for host in hosts:
            body = report_body(host, AGENT_TYPES, {"routers": 0, "networks": 0}, "nova", binary="feed-change")
            await self.call("POST", f"{FEED}/agents", body)


class Topology:
    """feed_scale's topology on ``app`` with ``agents`` agents, and the ports the associations go on."""

    def __init__(self, app: App, agents: int, changes: int) -> None:
        self.app, self.hosts = app, [f"sim{i:05d}" for i in range(agents)]
        client: Any = _ClientView(app)
        app.loop.run_until_complete(app.report(self.hosts))
        self.topo = feed_scale.build_topology(client, max(10, agents // 10))
        app.loop.run_until_complete(app.report(self.hosts))  # binds the routers and DHCP
        self.where = feed_scale.placement(client, self.topo)
        made = range(changes // 2 + 1)
        self.ports = [feed_scale.make_port(client, self.topo, i, random.choice(self.hosts)) for i in made]

    async def change(self, index: int) -> set[str]:
        """Change ``index`` (even: a floating IP on a made port; odd: a bound port create); its hosts."""
        pairs = self.topo["pairs"]
        net, _router = pairs[index % len(pairs)]
        if index % 2 == 0:
            port = self.ports[index // 2]
            body = {"floating_network_id": self.topo["ext"], "port_id": port["id"]}
            await self.app.call("POST", "/v2.0/floatingips", {"floatingip": body})
            return {self.where[r] for n, r in pairs if n == port["network_id"] and r in self.where}
        host = random.choice(self.hosts)
        body = {"network_id": net, "security_groups": [self.topo["group"]], "binding:host_id": host}
        await self.app.call("POST", "/v2.0/ports", {"port": body})
        return {host} | ({self.where[net]} if net in self.where else set())


class _ClientView:
    """The two :class:`floatnet.client.Client` methods feed_scale's helpers call."""

    def __init__(self, app: App) -> None:
        self.create, self.call = app.create, app.call_sync


async def react(app: App, host: str, after: int) -> None:
    """What the agent on ``host`` does for the changes after ``after`` (as bench/feed_agents.py does)."""
    answer = await app.call("GET", f"{FEED}/hosts/{host}/changes", None, {"after": after, "timeout": 0})
    rows = [row for row in answer["changes"] if row.get("op") != "status"]
    batch = touched(rows)
    params = [("router_id", r) for r in sorted(batch.routers)] + [("network_id", n) for n in sorted(batch.networks)]
    if batch.fips_only:
        params += [("floatingip_id", f) for ids in batch.fips.values() for f in sorted(ids)]
    state = await app.call("GET", f"{FEED}/hosts/{host}/state", None, params)
    fips = {f["id"]: "ACTIVE" for r in state["routers"] for f in r["floatingips"] if f["status"] != "ACTIVE"}
    ports = {p["id"]: "ACTIVE" for p in state["ports"] if p["status"] != "ACTIVE"}
    body = {kind: values for kind, values in (("floatingips", fips), ("ports", ports)) if values}
    if body:
        await app.call("PUT", f"{FEED}/hosts/{host}/status", body)


async def run(app: App, topology: Topology, first: int, count: int) -> None:
    for index in range(first, first + count):
        after = (await app.call("GET", f"{FEED}/hosts/anyone/changes", None, {"timeout": 0}))["seq"]
        for host in await topology.change(index):
            await react(app, host, after)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--changes", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20, help="changes before the timed ones")
    args = parser.parse_args()
    random.seed(7)
    with tempfile.TemporaryDirectory(prefix="floatnet-feed-change-") as tmp:
        app = App(Path(tmp))
        tune_gc()  # as floatnet server does: the collector does not rescan the frozen start-up objects
        topology = Topology(app, args.agents, args.warmup + args.changes)
        app.loop.run_until_complete(run(app, topology, 0, args.warmup))
        began = time.process_time()
        app.loop.run_until_complete(run(app, topology, args.warmup, args.changes))
        used = time.process_time() - began
        app.app.state.core.db.dispose()
    result = {"benchmark": "feed_change", "agents": args.agents, "changes": args.changes,
              "cpu_ms_per_change": round(used / args.changes * 1000, 2)}  # fmt: skip
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
