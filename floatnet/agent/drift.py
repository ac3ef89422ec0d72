"""Drift: what changed in an owned namespace behind the agent's back, and how often it may be repaired. Pure.

The reconcile loop re-observes a namespace the kernel reported changed (:mod:`floatnet.agent.kernel_watch`),
logs :func:`describe` of the difference from its view once, and repairs it through the ordinary plan/apply
step. :class:`Backoff` spaces out repairs of something that keeps breaking (a dnsmasq that dies right after each
start): a repair runs at once unless the namespace was repaired twice within ``quiet`` (3 s), then the next one
waits 0.5 s, 1 s, 2 s … up to 30 s after the last. A namespace whose actions failed is retried the same way,
after 1 s, 2 s … 30 s (:meth:`Backoff.retry`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from floatnet.agent.state import Namespace
from floatnet.linux import names


def resources_of(groups: Iterable[str]) -> set[tuple[str, str]]:
    """The resources (``("router" | "network" | "port", id)``) whose kernel state the action ``groups`` hold:
    one entry per namespace however many floating IPs it holds, one per instance port."""
    refs: set[tuple[str, str]] = set()
    for group in groups:
        router, network = names.router_id_of(group), names.network_id_of(group)
        if router or network:
            refs.add(("router", router) if router else ("network", str(network)))
        elif group.startswith("port:"):
            refs.add(("port", group[len("port:") :]))
    return refs


def listing(repairs: Mapping[tuple[str, str], tuple[float, str]]) -> list[dict[str, str]]:
    """The last repair of each resource (``(kind, id) -> (wall time, what)``) as the agent reports it, by
    resource, with its UTC time."""
    return [
        {"kind": k, "id": i, "at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)), "what": what}
        for (k, i), (at, what) in sorted(repairs.items())
    ]


def describe(before: Namespace | None, after: Namespace | None) -> str:
    """What differs between the agent's view of a namespace and the kernel's ("" when nothing)."""
    if before == after:
        return ""
    if after is None:
        return "namespace deleted"
    if before is None:
        return "namespace appeared"
    out = []
    for dev in sorted(set(before.links) | set(after.links)):
        was, now = before.links.get(dev), after.links.get(dev)
        if now is None:
            out.append(f"{dev} deleted")
        elif was is None:
            out.append(f"{dev} appeared")
        else:
            if was.up and not now.up:
                out.append(f"{dev} set down")
            gone, extra = sorted(was.addresses - now.addresses), sorted(now.addresses - was.addresses)
            out += [f"{dev} lost {', '.join(gone)}"] if gone else []
            out += [f"{dev} gained {', '.join(extra)}"] if extra else []
    if before.routes != after.routes:
        out.append(f"routes {_routes(before)} -> {_routes(after)}")
    if before.forwarding != after.forwarding:
        out.append(f"forwarding {'on' if after.forwarding else 'off'}")
    out += _nat(before, after)
    return "; ".join(out) or "changed"


def _routes(ns: Namespace) -> str:
    extra = ",".join(f"{d} via {v}" for d, v in sorted(ns.routes.extra))
    return f"[default {ns.routes.default_gw or 'none'}{' ' + extra if extra else ''}]"


def _nat(before: Namespace, after: Namespace) -> list[str]:
    if before.nat == after.nat:
        return []
    if after.nat is None:
        return ["nft table floatnet missing or not floatnet's (deleted or flushed)"]
    if before.nat is None or before.nat.structure() != after.nat.structure():
        return ["nft table floatnet changed"]
    lost = sorted(set(before.nat.fips) - set(after.nat.fips))
    return [f"nft map lost {', '.join(lost)}" if lost else "nft map elements changed"]


@dataclass
class Backoff:
    """Per-namespace spacing of repairs and of retries after a failure (see the module docstring)."""

    first: float = 0.5
    maximum: float = 30.0
    quiet: float = 3.0
    last: dict[str, tuple[float, float]] = field(default_factory=dict)  # key -> (last repair, its delay)
    waiting: set[str] = field(default_factory=set)

    def due(self, keys: Iterable[str], now: float) -> set[str]:
        """The keys (new ones and earlier deferred ones) whose repair may run now; the others wait."""
        self.waiting |= set(keys)
        ready = {k for k in self.waiting if k not in self.last or now >= sum(self.last[k])}
        self.waiting -= ready
        return ready

    def retry(self, key: str, now: float) -> None:
        """``key``'s last step failed (a temporary kernel failure): run it again after 1 s, 2 s … 30 s."""
        _, delay = self.last.get(key, (now, 0.0))
        self.last[key] = (now, min(max(delay * 2, 1.0), self.maximum))
        self.waiting.add(key)

    def repaired(self, key: str, now: float) -> None:
        at, delay = self.last.get(key, (float("-inf"), 0.0))
        again = now - at < self.quiet
        self.last[key] = (now, min(max(delay * 2, self.first), self.maximum) if again else 0.0)
