"""Provisioning blocks, pure logic: which writes and reports add or lift a port's ``dhcp``/``l2`` blocks and
when it goes ``ACTIVE`` (server), and which ports the agent reports ``dhcp_ready`` for (agent)."""

from __future__ import annotations

from typing import Any

import pytest

from floatnet.agent.dirty import Dirty
from floatnet.agent.loop import Agent
from floatnet.agent.plan_common import PlanContext
from floatnet.core.agent_protocol.provisioning import instance_owner, on_dhcp_ready, on_l2, on_write
from tests.unit.agent_fakes import FakeKernel, FakeServer
from tests.unit.test_agent_plan import NET, network_doc

B = frozenset
BOTH = B({"dhcp", "l2"})


@pytest.mark.parametrize(
    ("owner", "expected"),
    [("", True), ("compute:nova", True), ("compute:az1", True), ("network:dhcp", False),
     ("network:router_interface", False), ("baremetal:none", False)],
)  # fmt: skip
def test_only_instance_ports_wait_for_dhcp(owner: str, expected: bool) -> None:
    assert instance_owner(owner) is expected


@pytest.mark.parametrize(
    ("status", "blocks", "needs", "expected"),
    [
        ("DOWN", B(), True, ("DOWN", BOTH)),  # a new port: DHCP and its wiring
        ("ACTIVE", B(), True, ("ACTIVE", B({"dhcp"}))),  # readdressed, wired: DHCP only, stays ACTIVE
        ("DOWN", B({"dhcp"}), True, ("DOWN", B({"dhcp"}))),  # wired, still waiting for DHCP
        ("DOWN", B({"l2"}), True, ("DOWN", BOTH)),
        ("ERROR", B(), True, ("ERROR", BOTH)),
        ("DOWN", B(), False, ("DOWN", B())),  # no DHCP to wait for: nothing
        ("DOWN", B({"dhcp"}), False, ("ACTIVE", B())),  # wired, DHCP no longer needed: provisioned
        ("DOWN", BOTH, False, ("DOWN", B({"l2"}))),
    ],
)
def test_on_write(status: str, blocks: frozenset[str], needs: bool, expected: tuple[str, frozenset[str]]) -> None:
    assert on_write(status, blocks, needs) == expected


@pytest.mark.parametrize(
    ("status", "blocks", "reported", "expected"),
    [
        ("DOWN", B(), "ACTIVE", ("ACTIVE", B())),  # unblocked: the agent's word, as before
        ("ACTIVE", B(), "DOWN", ("DOWN", B())),
        ("DOWN", BOTH, "ACTIVE", ("DOWN", B({"dhcp"}))),  # wired, DHCP not ready: stays DOWN
        ("ERROR", BOTH, "ACTIVE", ("DOWN", B({"dhcp"}))),
        ("ACTIVE", B({"dhcp"}), "ACTIVE", ("ACTIVE", B({"dhcp"}))),  # readdressed: stays ACTIVE
        ("DOWN", B({"l2"}), "ACTIVE", ("ACTIVE", B())),  # DHCP was ready: the last block
        ("ACTIVE", B({"dhcp"}), "DOWN", ("DOWN", BOTH)),  # unplugged: its wiring must be reported again
        ("DOWN", B({"dhcp"}), "ERROR", ("ERROR", BOTH)),
    ],
)
def test_on_l2(status: str, blocks: frozenset[str], reported: str, expected: tuple[str, frozenset[str]]) -> None:
    assert on_l2(status, blocks, reported) == expected


@pytest.mark.parametrize(
    ("status", "blocks", "expected"),
    [
        ("DOWN", BOTH, ("DOWN", B({"l2"}))),  # served, not wired
        ("DOWN", B({"dhcp"}), ("ACTIVE", B())),
        ("ACTIVE", B({"dhcp"}), ("ACTIVE", B())),
        ("DOWN", B(), ("DOWN", B())),  # nothing to lift: a DHCP report alone never activates a port
        ("DOWN", B({"l2"}), ("DOWN", B({"l2"}))),
    ],
)
def test_on_dhcp_ready(status: str, blocks: frozenset[str], expected: tuple[str, frozenset[str]]) -> None:
    assert on_dhcp_ready(status, blocks) == expected


class Recording(FakeServer):
    """The fake server, keeping every ``dhcp_ready`` the agent sends."""

    def __init__(self, networks: list[dict[str, Any]]) -> None:
        super().__init__([], networks)
        self.ready: list[dict[str, str]] = []

    def report_status(self, statuses: Any) -> None:
        self.ready += [dict(statuses["dhcp_ready"])] if statuses.get("dhcp_ready") else []
        super().report_status(statuses)


def _host(i: int, ip: str) -> dict[str, str]:
    return {"port_id": f"p{i}", "mac_address": f"fa:16:3e:00:01:{i:02x}", "ip_address": ip, "hostname": "h"}


def test_the_agent_reports_each_served_port_once_per_address() -> None:
    """After a step applied a network's DHCP: the ports its hosts file now serves that were not reported with
    these addresses yet — not all of them every step; nothing for a network whose DHCP failed to apply."""
    server, kernel = Recording([network_doc(hosts=2)]), FakeKernel()
    loop = Agent(lambda: server, kernel, PlanContext(), 60.0, {})  # type: ignore[arg-type,return-value]
    loop.reconcile(Dirty(everything=True))
    assert server.ready == [{"p0": "fa:16:3e:00:01:00 10.0.0.10", "p1": "fa:16:3e:00:01:01 10.0.0.11"}]
    loop.reconcile(Dirty(everything=True))
    assert len(server.ready) == 1  # nothing new
    hosts = server.networks[NET]["dhcp"]["hosts"]
    hosts.append(_host(2, "10.0.0.12"))
    hosts[0]["ip_address"] = "10.0.0.20"
    loop.reconcile(Dirty(everything=True))
    assert server.ready[1:] == [{"p0": "fa:16:3e:00:01:00 10.0.0.20", "p2": "fa:16:3e:00:01:02 10.0.0.12"}]
    kernel.fail[f"qdhcp-{NET}"] = "injected"
    hosts.append(_host(3, "10.0.0.13"))
    loop.reconcile(Dirty(everything=True))
    assert len(server.ready) == 2  # the hosts file was not confirmed: p3 waits
    kernel.fail.clear()
    loop.reconcile(Dirty(everything=True))
    assert server.ready[2:] == [{"p3": "fa:16:3e:00:01:03 10.0.0.13"}]
