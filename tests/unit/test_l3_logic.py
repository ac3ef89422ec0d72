"""Pure L3 logic: placement, the change notifier, status bodies, route and fixed-IP choice."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta

import pytest

from floatnet.core.agent_protocol import status
from floatnet.core.agent_protocol.feed import ChangeNotifier
from floatnet.core.agent_protocol.scheduling import Candidates, choose, choose_many, is_alive
from floatnet.core.errors import BadRequest, HTTPBadRequest
from floatnet.core.l3_errors import InvalidRoutes
from floatnet.core.resources import extra_routes
from floatnet.core.resources.fip_association import _pick_ip

IDS = [f"00000000-0000-4000-8000-{i:012d}" for i in range(200)]


def test_choose_is_deterministic_and_order_free() -> None:
    hosts = ["b", "a", "c"]
    assert [choose(i, hosts) for i in IDS] == [choose(i, list(reversed(hosts))) for i in IDS]
    assert choose(IDS[0], []) is None
    assert {choose(i, ["only"]) for i in IDS} == {"only"}


def test_choose_spreads_over_hosts() -> None:
    counts = {h: 0 for h in ("a", "b", "c")}
    for resource_id in IDS:
        counts[str(choose(resource_id, list(counts)))] += 1
    assert all(count > 40 for count in counts.values()), counts


def test_candidates_separate_routers_and_dhcp() -> None:
    placement = Candidates(routers=["r1"], dhcp=["d1"])
    assert placement.host_for("router", IDS[0]) == "r1"
    assert placement.host_for("dhcp", IDS[0]) == "d1"


def test_choose_many_starts_with_choose_and_skips_the_taken() -> None:
    hosts = ["a", "b", "c", "d"]
    for resource_id in IDS[:50]:
        two = choose_many(resource_id, hosts, 2)
        assert two[0] == choose(resource_id, hosts) and len(set(two)) == 2
        assert choose_many(resource_id, hosts, 1, taken=[two[0]]) == [two[1]]
    assert choose_many(IDS[0], ["a"], 3) == ["a"] and choose_many(IDS[0], ["a"], 1, taken=["a"]) == []


def test_candidates_place_dhcp_on_n_hosts_after_the_bound_slots() -> None:
    """Bound slots first (an emptied slot serves nothing and is not refilled), computed ones for the rest."""
    hosts = ["d1", "d2", "d3"]
    net = IDS[0]
    fresh = Candidates(dhcp=hosts, routers=[], per_network=2)
    assert fresh.hosts_of("dhcp", net) == choose_many(net, hosts, 2)
    one_bound = Candidates(dhcp=hosts, routers=[], per_network=2, bound={("dhcp", net): ("d3",)})
    assert one_bound.hosts_of("dhcp", net)[0] == "d3" and len(set(one_bound.hosts_of("dhcp", net))) == 2
    emptied = Candidates(dhcp=hosts, routers=[], per_network=2, bound={("dhcp", net): (None, "d1")})
    assert emptied.hosts_of("dhcp", net) == ["d1"] and emptied.runs_on("dhcp", net, "d1")
    beyond = Candidates(dhcp=hosts, routers=[], per_network=2, bound={("dhcp", net): ("d1", "d2", "d3")})
    assert beyond.hosts_of("dhcp", net) == ["d1", "d2", "d3"]  # the operator may add past N


def test_is_alive() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0)
    assert is_alive(now - timedelta(seconds=14), 15, now)
    assert not is_alive(now - timedelta(seconds=15), 15, now)
    assert not is_alive(None, 15, now)


def test_notifier_wakes_a_waiter_from_another_thread() -> None:
    notifier = ChangeNotifier()

    async def scenario() -> bool:
        version = notifier.version
        threading.Timer(0.05, notifier.notify).start()
        return await notifier.wait(version, 5)

    assert asyncio.run(scenario()) is True


def test_notifier_does_not_lose_a_wakeup_before_waiting() -> None:
    notifier = ChangeNotifier()
    version = notifier.version
    notifier.notify()
    assert asyncio.run(notifier.wait(version, 5)) is True


def test_notifier_times_out() -> None:
    notifier = ChangeNotifier()
    assert asyncio.run(notifier.wait(notifier.version, 0.05)) is False


def test_status_body_validation() -> None:
    assert status.parse({"ports": {"p": "ACTIVE"}}) == {"ports": {"p": "ACTIVE"}}
    bad_bodies: list[object] = [[], {"ports": []}, {"ports": {"p": "UP"}}, {"agents": {}}]
    for bad in bad_bodies:
        with pytest.raises(HTTPBadRequest):
            status.parse(bad)


def test_routes_convert_dedups_and_checks() -> None:
    route = {"destination": "192.0.2.0/24", "nexthop": "10.0.0.7"}
    assert extra_routes.convert([route, dict(route)]) == [route]
    assert extra_routes.convert(None) == []
    with pytest.raises(ValueError):
        extra_routes.convert([{"destination": "192.0.2.1", "nexthop": "10.0.0.7"}])
    extra_routes._check([route], ["10.0.0.0/24"], {"10.0.0.1"})
    with pytest.raises(InvalidRoutes):
        extra_routes._check([route], ["10.1.0.0/24"], set())
    with pytest.raises(InvalidRoutes):
        extra_routes._check([route], ["10.0.0.0/24"], {"10.0.0.7"})


def test_fixed_ip_choice() -> None:
    one = [{"subnet_id": "s", "ip_address": "10.0.0.5"}, {"subnet_id": "s6", "ip_address": "2001:db8::5"}]
    assert _pick_ip("p", one, None)["ip_address"] == "10.0.0.5"
    two = [*one, {"subnet_id": "s", "ip_address": "10.0.0.6"}]
    with pytest.raises(BadRequest):
        _pick_ip("p", two, None)
    assert _pick_ip("p", two, "10.0.0.6")["ip_address"] == "10.0.0.6"
    for wanted in ("10.0.0.9", "2001:db8::5"):
        with pytest.raises(BadRequest):
            _pick_ip("p", two, wanted)
    with pytest.raises(BadRequest):
        _pick_ip("p", [], None)
