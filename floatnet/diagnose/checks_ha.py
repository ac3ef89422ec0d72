"""The HA hop (l3-ha): exactly one replica of the router holds the floating IP.

keepalived puts the floating IP's /32 on the VRRP MASTER only; zero holders is an outage, two is a split brain
(each replica answers ARP for it, upstream flips between them). The judgement reads every hosting agent's
report (``GET /v2.0/routers/{id}/l3-agents``, Neutron's ``ha_state``: active/standby) and, for the replica on
the node diagnose runs on, what its ``qrouter-`` namespace really holds — the kernel over the report, since a
report is up to one heartbeat old. Other nodes' namespaces are not reachable from here: their report stands.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from floatnet.diagnose import probe
from floatnet.diagnose.facts import Facts
from floatnet.diagnose.result import Result, failed, passed


@dataclass(frozen=True)
class Replica:
    """One hosting agent: its ``host``, its reported ``ha_state`` (None: not reported yet) and, on this node,
    whether the namespace holds the floating IP (``holds`` None: not observed here)."""

    host: str
    ha_state: str | None
    holds: bool | None = None

    @property
    def holding(self) -> bool:
        return self.holds if self.holds is not None else self.ha_state == "active"

    def describe(self) -> str:
        seen = "" if self.holds is None else f", namespace {'holds' if self.holds else 'lacks'} it"
        return f"{self.host} ({self.ha_state or 'no report'}{seen})"


def judge(fip: str, router_ns: str, replicas: Sequence[Replica]) -> Result:
    """PASS when exactly one replica holds ``fip``; a FAIL naming the nodes when none or several do. Pure."""
    shown = "floatnet router-show ROUTER; GET /v2.0/routers/ROUTER/l3-agents"
    holders = [r for r in replicas if r.holding]
    listing = ", ".join(r.describe() for r in replicas) or "no agent hosts the router"
    if len(holders) == 1:
        return passed(f"one replica holds {fip}: {holders[0].describe()}", shown)
    if not holders:
        return failed(
            f"no replica holds {fip}: {listing}",
            "keepalived elects a MASTER within ~3 advertisement intervals of start: check that it runs in "
            f"{router_ns} on those nodes (`ps -C keepalived`) and read the agents' logs",
            shown,
        )
    return failed(
        f"{len(holders)} replicas hold {fip} (split brain): {', '.join(r.describe() for r in holders)}",
        "the replicas do not hear each other's VRRP advertisements: check the HA network between those nodes "
        f"(`ip netns exec {router_ns} tcpdump -ni any vrrp` on each must show the other's); once they hear "
        "each other one steps back to BACKUP",
        shown,
    )


def single_holder(f: Facts) -> Result:
    """An HA router: exactly one replica holds the floating IP (see :func:`judge`). A router that is not HA
    has one replica by construction: passed."""
    assert f.router is not None
    if not f.router.get("ha"):
        return passed("the router is not HA: a single replica", f"floatnet router-show {f.router_id}")
    agents = f.api.l3_agents(f.router_id)
    here = _held_here(f)
    replicas = [Replica(str(a.get("host")), a.get("ha_state"), here if a.get("host") == f.local.host else None)
                for a in agents]  # fmt: skip
    return judge(f.fip_address, f.router_ns, replicas)


def _held_here(f: Facts) -> bool | None:
    """Whether this node's namespace of the router holds the floating IP's /32 on ``qg-`` (None: not
    observable here: not root, or no such namespace)."""
    if os.geteuid() != 0 or f.router_ns not in probe.netns_names():
        return None
    link = f.router_links.get(f.qg_dev)
    return link is not None and f"{f.fip_address}/32" in probe.ipv4_cidrs(link)
