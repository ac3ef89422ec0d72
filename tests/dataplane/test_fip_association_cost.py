"""One floating IP associated on a router that holds N others: the agent's three kernel operations for it (the
/32 on ``qg-``, the DNAT/SNAT map pair, the gratuitous ARP) start no thread and enter no namespace once the
router's sockets are open — the same for N = 10 as for N = 1,000. On a loaded network node each thread start
waited for the interpreter lock: an association paid tens of milliseconds for them (issue 14)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from floatnet.linux import arp, links, nat, netns
from tests.dataplane.conftest import dev_name

QG, GW = "qg-c0ffee", "203.0.113.1"


def _router(ns: str, count: int) -> dict[str, str]:
    """A router namespace's gateway device and NAT table holding ``count`` floating IPs."""
    fips = {f"10.254.{i // 250}.{i % 250 + 1}": f"10.0.{i // 250}.{i % 250 + 1}" for i in range(count)}
    nat.replace(ns, nat.RouterNat(GW, QG, True, ("10.0.0.1/16",), fips))
    links.sync_addresses(ns, QG, {f"{GW}/24"} | {f"{ip}/32" for ip in fips})
    return fips


def _associate(ns: str, fip: str, fixed: str) -> None:
    links.edit_addresses(ns, QG, add={f"{fip}/32"})
    nat.add_fip(ns, fip, fixed)
    arp.announce(ns, QG, (fip,), count=1)


def _disassociate(ns: str, fip: str, fixed: str) -> None:
    nat.del_fip(ns, fip, fixed)
    links.edit_addresses(ns, QG, remove={f"{fip}/32"})


@pytest.mark.parametrize("count", [10, 1000])
def test_one_association_starts_no_thread_whatever_the_router_holds(
    count: int, make_ns: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    ns = make_ns(f"fc{count}")
    links.ensure_veth(dev_name(f"fc{count}"), QG, ns, peer_name=QG)
    try:
        _router(ns, count)
        _associate(ns, "203.0.113.50", "10.0.255.1")  # opens the namespace's sockets
        _disassociate(ns, "203.0.113.50", "10.0.255.1")
        entered: list[str | None] = []
        started: list[str] = []
        run_in, start = netns.run_in, threading.Thread.start
        monkeypatch.setattr(netns, "run_in", lambda name, *rest: entered.append(name) or run_in(name, *rest))
        monkeypatch.setattr(threading.Thread, "start", lambda self: started.append(self.name) or start(self))
        for i in range(5):
            _associate(ns, f"203.0.113.{60 + i}", f"10.0.255.{10 + i}")
        assert (entered, started) == ([], [])
        assert len(nat.observe(ns).fips) == count + 5  # type: ignore[union-attr]
    finally:
        links.delete_link(dev_name(f"fc{count}"))
