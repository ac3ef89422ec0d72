"""The API-side checks on an in-memory copy of the seed topology (pure logic: a dict answers the GETs).

Each test breaks one thing in the API state and asserts that the first failure names exactly that hop, with
everything before it ok.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from floatnet.diagnose.facts import Facts
from floatnet.diagnose.plan import CHECKS
from floatnet.diagnose.reader import ApiReadError, NeutronReader
from floatnet.diagnose.result import Result, first_failure, run_checks

NET, EXT, SUB, EXT_SUB, ROUTER = "net-vlan100", "net-public", "sub-private", "sub-public", "router-1"
VM_PORT, GW_PORT, IF_PORT, FIP = "port-vm1", "port-gw", "port-if", "fip-1"

SEED: dict[str, dict[str, dict[str, Any]]] = {
    "network": {
        NET: {"id": NET, "name": "vlan_100", "provider:network_type": "vlan",
              "provider:physical_network": "public_eth1", "provider:segmentation_id": 100},
        EXT: {"id": EXT, "name": "public_net", "provider:network_type": "flat",
              "provider:physical_network": "public_eth0", "provider:segmentation_id": None},
    },
    "subnet": {
        SUB: {"id": SUB, "network_id": NET, "cidr": "10.0.0.0/24", "gateway_ip": "10.0.0.1", "ip_version": 4,
              "enable_dhcp": True, "dns_nameservers": []},
        EXT_SUB: {"id": EXT_SUB, "network_id": EXT, "cidr": "203.0.113.0/24", "gateway_ip": "203.0.113.1",
                  "ip_version": 4, "enable_dhcp": False},
    },
    "port": {
        VM_PORT: {"id": VM_PORT, "network_id": NET, "mac_address": "fa:16:3e:00:00:05", "status": "ACTIVE",
                  "admin_state_up": True, "device_owner": "compute:nova", "device_id": "vm1",
                  "binding:host_id": "node1",
                  "fixed_ips": [{"subnet_id": SUB, "ip_address": "10.0.0.5"}]},
        GW_PORT: {"id": GW_PORT, "network_id": EXT, "device_owner": "network:router_gateway",
                  "device_id": ROUTER,
                  "fixed_ips": [{"subnet_id": EXT_SUB, "ip_address": "203.0.113.100"}]},
        IF_PORT: {"id": IF_PORT, "network_id": NET, "device_owner": "network:router_interface",
                  "device_id": ROUTER,
                  "fixed_ips": [{"subnet_id": SUB, "ip_address": "10.0.0.1"}]},
    },
    "router": {
        ROUTER: {"id": ROUTER, "name": "router1", "admin_state_up": True,
                 "external_gateway_info": {"network_id": EXT, "enable_snat": True}},
    },
    "floatingip": {
        FIP: {"id": FIP, "floating_ip_address": "203.0.113.101", "floating_network_id": EXT,
              "status": "ACTIVE",
              "port_id": VM_PORT, "fixed_ip_address": "10.0.0.5", "router_id": ROUTER},
    },
    "agent": {
        "a-l3": {"id": "a-l3", "host": "node1", "agent_type": "L3 agent", "alive": True,
                 "configurations": {}},
        "a-ovs": {"id": "a-ovs", "host": "node1", "agent_type": "Open vSwitch agent", "alive": True,
                  "configurations": {"bridge_mappings": {"public_eth0": "br-ex", "public_eth1": "br-eth1"},
                                     "errors": []}},
    },
}  # fmt: skip

API_CHECKS = [c for c in CHECKS if c.name.startswith(("api.", "agent."))]


class FakeNeutron:
    """GET answers from a dict of resources, filtered like the server filters (equality on each parameter)."""

    def __init__(self, state: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.state = state

    def __call__(self, path: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
        parts = path.strip("/").split("/")
        kind = parts[0][:-1]
        if kind not in self.state:
            return 404, {"NeutronError": {"type": "HTTPNotFound", "message": "no such collection"}}
        if len(parts) == 2:
            item = self.state[kind].get(parts[1])
            if item is None:
                return 404, {"NeutronError": {"type": f"{kind.title()}NotFound", "message": "not found"}}
            return 200, {kind: item}
        rows = [r for r in self.state[kind].values() if all(r.get(k) == v for k, v in (params or {}).items())]
        return 200, {f"{kind}s": rows}


@pytest.fixture
def state() -> dict[str, dict[str, dict[str, Any]]]:
    return copy.deepcopy(SEED)


def diagnose_api(state: dict[str, dict[str, dict[str, Any]]], ref: str = "203.0.113.101") -> list[Result]:
    return run_checks(API_CHECKS, Facts(NeutronReader(FakeNeutron(state)), ref))


def broken_hop(results: list[Result]) -> str:
    failure = first_failure(results)
    assert failure is not None, "expected a failure"
    before = results[: results.index(failure)]
    assert all(r.status == "ok" for r in before), [(r.name, r.status) for r in before]
    return failure.name


def by_name(results: list[Result], name: str) -> Result:
    return next(r for r in results if r.name == name)


def test_healthy_seed_all_ok_by_address_and_by_id(state: dict[str, Any]) -> None:
    for ref in ("203.0.113.101", FIP):
        results = diagnose_api(state, ref)
        assert [r.status for r in results] == ["ok"] * len(API_CHECKS), [(r.name, r.reason) for r in results]


def test_unknown_floating_ip(state: dict[str, Any]) -> None:
    results = diagnose_api(state, "203.0.113.99")
    assert broken_hop(results) == "api.floatingip"
    assert all(r.status == "skipped" for r in results[1:])


def test_disassociated(state: dict[str, Any]) -> None:
    state["floatingip"][FIP].update(port_id=None, fixed_ip_address=None, router_id=None)
    results = diagnose_api(state)
    assert broken_hop(results) == "api.associated"
    assert "floatingip-associate" in by_name(results, "api.associated").fix


def test_port_down_is_named_but_does_not_hide_the_rest(state: dict[str, Any]) -> None:
    state["port"][VM_PORT]["status"] = "DOWN"
    results = diagnose_api(state)
    assert broken_hop(results) == "api.port_active"
    assert {r.name: r.status for r in results}["api.router_interface"] == "ok"


def test_port_gone(state: dict[str, Any]) -> None:
    del state["port"][VM_PORT]
    assert broken_hop(diagnose_api(state)) == "api.port"


def test_router_gateway_on_another_network(state: dict[str, Any]) -> None:
    state["router"][ROUTER]["external_gateway_info"] = None
    del state["port"][GW_PORT]
    results = diagnose_api(state)
    assert broken_hop(results) == "api.router_gateway"
    assert f"router-gateway-set {ROUTER} {EXT}" in by_name(results, "api.router_gateway").fix
    assert {r.name: r.status for r in results}["api.external_subnet"] == "skipped"


def test_router_without_interface_on_the_subnet(state: dict[str, Any]) -> None:
    del state["port"][IF_PORT]
    results = diagnose_api(state)
    assert broken_hop(results) == "api.router_interface"
    assert f"router-interface-add {ROUTER} {SUB}" in by_name(results, "api.router_interface").fix


def test_external_subnet_without_gateway(state: dict[str, Any]) -> None:
    state["subnet"][EXT_SUB]["gateway_ip"] = None
    assert broken_hop(diagnose_api(state)) == "api.external_subnet"


def test_dead_ovs_agent_on_the_ports_host(state: dict[str, Any]) -> None:
    state["agent"]["a-ovs"]["alive"] = False
    results = diagnose_api(state)
    assert broken_hop(results) == "agent.alive"
    assert "dead" in by_name(results, "agent.alive").reason and "node1" in by_name(results, "agent.alive").reason


def test_no_agent_for_the_ports_host(state: dict[str, Any]) -> None:
    state["port"][VM_PORT]["binding:host_id"] = "node9"
    results = diagnose_api(state)
    assert broken_hop(results) == "agent.alive" and "node9" in by_name(results, "agent.alive").reason


def test_agent_reports_an_error_for_this_floating_ip(state: dict[str, Any]) -> None:
    state["agent"]["a-ovs"]["configurations"]["errors"] = [{"kind": "floatingip", "id": FIP, "reason": "nft: boom"}]
    results = diagnose_api(state)
    assert broken_hop(results) == "agent.alive" and "nft: boom" in by_name(results, "agent.alive").reason


def test_server_errors_become_a_failed_check() -> None:
    def refusing(path: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
        raise ApiReadError(path, 0, "cannot connect to http://127.0.0.1:1/v2.0")

    results = run_checks(API_CHECKS, Facts(NeutronReader(refusing), "203.0.113.101"))
    assert broken_hop(results) == "api.floatingip"
    assert "cannot connect" in results[0].reason and "floatnet server" in results[0].fix


def test_bridge_mappings_come_from_the_ovs_agent(state: dict[str, Any]) -> None:
    facts = Facts(NeutronReader(FakeNeutron(state)), "203.0.113.101")
    assert facts.bridge_mappings == {"public_eth0": "br-ex", "public_eth1": "br-eth1"}
    assert facts.router_ns == f"qrouter-{ROUTER}" and facts.qg_dev == f"qg-{GW_PORT[:11]}"
    assert facts.gateway_cidr == "203.0.113.100/24"
    assert facts.interface_cidr == "10.0.0.1/24" and facts.qr_dev == f"qr-{IF_PORT[:11]}"


def test_agent_check_shows_the_last_repair_of_this_path(state: dict[str, Any]) -> None:
    state["agent"]["a-ovs"]["configurations"]["repairs"] = [
        {"kind": "router", "id": ROUTER, "at": "2026-12-04 20:00:00", "what": "qrouter-x: namespace deleted"},
        {"kind": "router", "id": ROUTER, "at": "2026-12-04 20:05:00", "what": "qrouter-x: qg-y set down"},
        {"kind": "router", "id": "other", "at": "2026-12-04 21:00:00", "what": "not this path"},
    ]
    reason = by_name(diagnose_api(state), "agent.alive").reason
    assert reason.endswith(f"last repaired router {ROUTER} at 2026-12-04 20:05:00 UTC: qrouter-x: qg-y set down")
