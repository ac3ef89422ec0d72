"""The security-group hops of ``floatnet diagnose`` on an in-memory seed (pure: a dict answers the GETs, the
kernel's tables are the captured ``nft -n -j`` output of tests/unit/data)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from floatnet.diagnose import checks_security, nft_eval
from floatnet.diagnose.facts import Facts, Query
from floatnet.diagnose.reader import NeutronReader
from floatnet.diagnose.result import Result
from tests.unit.test_diagnose_api import SEED, VM_PORT, FakeNeutron

DEFAULT, WEB = "sg-default", "sg-web"
NFT = json.loads((Path(__file__).parent / "data" / "nft_floatnet_sg.json").read_text())
NFT_PORT, NFT_WEB, NFT_DEFAULT = (
    "9a7e3b2c-1d4f-4e5a-8b6c-7d8e9f0a1b2c", "5b0c7a51-0e7e-4c51-9b0a-6a1f5b1c0a01",
    "d3fa0c11-2b7c-4d7e-8d2e-3c9a7e6f0b02",
)  # fmt: skip


def sg_rule(rule_id: str, group: str, **attrs: Any) -> dict[str, Any]:
    base = {"id": rule_id, "security_group_id": group, "direction": "ingress", "ethertype": "IPv4",
            "protocol": None, "port_range_min": None, "port_range_max": None, "remote_ip_prefix": None,
            "remote_group_id": None}  # fmt: skip
    return base | attrs


class SecurityNeutron(FakeNeutron):
    """The seed's fake plus ``/security-groups`` and the ``ports?security_groups=`` (list contains) filter."""

    def __call__(self, path: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
        if path.startswith("/security-groups"):
            return super().__call__(path.replace("security-groups", "security_groups"), params)
        if path == "/ports" and params and "security_groups" in params:
            group = params["security_groups"]
            return 200, {"ports": [p for p in self.state["port"].values() if group in p.get("security_groups", [])]}
        return super().__call__(path, params)


@pytest.fixture
def state() -> dict[str, dict[str, dict[str, Any]]]:
    world = copy.deepcopy(SEED)
    world["security_group"] = {
        DEFAULT: {"id": DEFAULT, "name": "default", "stateful": True, "security_group_rules": [
            sg_rule("r-def4", DEFAULT, remote_group_id=DEFAULT), sg_rule("r-egress", DEFAULT, direction="egress")]},
        WEB: {"id": WEB, "name": "web", "stateful": True, "security_group_rules": [
            sg_rule("r-http", WEB, protocol="tcp", port_range_min=80, port_range_max=80,
                    remote_ip_prefix="0.0.0.0/0")]},
    }  # fmt: skip
    world["port"][VM_PORT].update(security_groups=[DEFAULT], port_security_enabled=True)
    return world


def check(state: dict[str, Any], query: Query | None, name: str = "groups") -> Result:
    facts = Facts(NeutronReader(SecurityNeutron(state)), "203.0.113.101", query=query)
    return getattr(checks_security, name)(facts)  # type: ignore[no-any-return]


def test_default_group_admits_nothing_from_upstream_and_names_the_fix(state: dict[str, Any]) -> None:
    result = check(state, Query("tcp", 22))
    assert not result.ok
    assert result.reason == (
        f"no ingress rule of security group default (id {DEFAULT}) admits tcp/22 from 203.0.113.1"
    )
    assert result.fix == (
        "floatnet security-group-rule-create --direction ingress --protocol tcp --port-range-min 22 "
        "--port-range-max 22 --remote-ip-prefix 203.0.113.1/32 default"
    )


def test_the_admitting_rule_is_named(state: dict[str, Any]) -> None:
    state["port"][VM_PORT]["security_groups"] = [DEFAULT, WEB]
    result = check(state, Query("tcp", 80))
    assert result.ok and "rule r-http of security group web admits tcp/80 from 203.0.113.1" in result.reason
    assert not check(state, Query("tcp", 8080)).ok


def test_from_a_member_of_the_remote_group(state: dict[str, Any]) -> None:
    state["port"]["port-other"] = {"id": "port-other", "network_id": "net-vlan100", "security_groups": [DEFAULT],
                                   "fixed_ips": [{"subnet_id": "sub-private", "ip_address": "10.0.0.9"}],
                                   "allowed_address_pairs": [{"ip_address": "10.0.0.64/26"}]}  # fmt: skip
    assert check(state, Query("udp", 53, source="10.0.0.9")).ok
    assert check(state, Query("icmp", source="10.0.0.70")).ok
    assert not check(state, Query("icmp", source="10.0.0.10")).ok


def test_port_security_off_and_no_groups(state: dict[str, Any]) -> None:
    state["port"][VM_PORT].update(port_security_enabled=False, security_groups=[])
    assert check(state, Query("tcp", 22)).ok
    state["port"][VM_PORT]["port_security_enabled"] = True
    result = check(state, Query("tcp", 22))
    assert not result.ok and "no security group" in result.reason and "--security-group default" in result.fix


def test_an_ambiguous_group_name_is_fixed_by_id(state: dict[str, Any]) -> None:
    state["security_group"]["sg-default-2"] = {"id": "sg-default-2", "name": "default", "security_group_rules": []}
    assert check(state, Query("tcp", 22)).fix.endswith(f"/32 {DEFAULT}")


def test_without_a_query_the_groups_are_summarised(state: dict[str, Any]) -> None:
    state["port"][VM_PORT]["security_groups"] = [DEFAULT, WEB]
    result = check(state, None)
    assert result.ok and "from 203.0.113.1 they admit IPv4 tcp/80 from 0.0.0.0/0" in result.reason
    assert "--protocol" in result.hint


def kernel(state: dict[str, Any], query: Query | None, rules: nft_eval.Ruleset | None) -> Result:
    """``security.filter`` for the fixture's port (ids and addresses of tests/unit/data), kernel injected."""
    port = state["port"].pop(VM_PORT)
    port.update(id=NFT_PORT, security_groups=[NFT_WEB, NFT_DEFAULT], fixed_ips=[{"subnet_id": "sub-private",
                "ip_address": "10.0.0.5"}], **{"binding:vif_details": {"port_filter": True}})  # fmt: skip
    state["port"][NFT_PORT] = port
    state["floatingip"]["fip-1"]["port_id"] = NFT_PORT
    facts = Facts(NeutronReader(SecurityNeutron(state)), "203.0.113.101", query=query)
    facts.__dict__["sg_ruleset"] = rules
    return checks_security.kernel_filter(facts)


def test_the_installed_filter_is_walked_with_the_packet(state: dict[str, Any]) -> None:
    rules = nft_eval.parse(NFT["inet"], NFT["bridge"])
    assert kernel(copy.deepcopy(state), Query("tcp", 22), rules).ok  # the fixture admits 22 from 203.0.113.0/24
    result = kernel(copy.deepcopy(state), Query("tcp", 8080), rules)
    assert not result.ok and "the installed filter of port" in result.reason and "drops it" in result.reason
    assert kernel(copy.deepcopy(state), None, rules).ok


def test_a_missing_table_or_port_chain_is_the_broken_hop(state: dict[str, Any]) -> None:
    assert "no table inet floatnet_sg" in kernel(copy.deepcopy(state), None, None).reason
    rules = nft_eval.parse(NFT["inet"], NFT["bridge"])
    rules.maps["port_mark"] = [e for e in rules.maps["port_mark"] if not str(e[0]).startswith("qvb9a7e")]
    assert "no mark" in kernel(copy.deepcopy(state), None, rules).reason
    rules = nft_eval.parse(NFT["inet"], NFT["bridge"])
    rules.chains[f"port-{NFT_PORT}-in"] = [e for e in rules.chains[f"port-{NFT_PORT}-in"]
                                           if NFT_WEB not in json.dumps(e)]  # fmt: skip
    result = kernel(copy.deepcopy(state), None, rules)
    assert not result.ok and "has not applied the port's groups" in result.reason


def test_a_binding_that_does_not_filter_is_said_so(state: dict[str, Any]) -> None:
    state["port"][VM_PORT]["binding:vif_details"] = {"port_filter": False}
    facts = Facts(NeutronReader(SecurityNeutron(state)), "203.0.113.101", query=Query("tcp", 22))
    result = checks_security.kernel_filter(facts)
    assert result.ok and "does not filter" in result.reason


def test_a_stateless_group_needs_an_egress_rule_for_the_answer(state: dict[str, Any]) -> None:
    web = state["security_group"][WEB]
    web["stateful"] = False
    state["port"][VM_PORT]["security_groups"] = [WEB]
    result = check(state, Query("tcp", 80))
    assert not result.ok and "no egress rule admits the answer (tcp to 203.0.113.1" in result.reason
    assert result.fix.startswith("floatnet security-group-rule-create --direction egress --protocol tcp ")
    web["security_group_rules"].append(sg_rule("r-out", WEB, direction="egress", protocol="tcp"))
    assert check(state, Query("tcp", 80)).ok
    web["security_group_rules"][-1].update(port_range_min=80, port_range_max=80)  # the peer's port is unknown
    assert not check(state, Query("tcp", 80)).ok
