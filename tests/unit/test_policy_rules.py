"""Neutron's default policy as floatnet evaluates it (pure: oslo.policy on dicts, no server)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from floatnet.core.access import policy_engine
from floatnet.core.access.policy_engine import PolicyEngine, PolicyFileError


@dataclass
class Caller:
    project_id: str
    user_id: str = "u"
    roles: tuple[str, ...] = ("member", "reader")
    is_admin: bool = False


ALICE = Caller("alpha")
BOB = Caller("beta")
READER = Caller("alpha", roles=("reader",))
ADMIN = Caller("admin", roles=("admin", "member", "reader"), is_admin=True)


def net(project: str, shared: bool = False, external: bool = False) -> dict[str, object]:
    return {
        "project_id": project,
        "tenant_id": project,
        "shared": shared,
        "router:external": external,
        "provider:network_type": "vlan",
        "provider:physical_network": "public_eth1",
        "provider:segmentation_id": 100,
    }


def on_net(project: str, network: dict[str, object], **attrs: object) -> dict[str, object]:
    """A subnet/port target: its own attributes plus its network's, as the rules expect."""
    return {
        "project_id": project,
        "tenant_id": project,
        "network:project_id": network["project_id"],
        "network:tenant_id": network["project_id"],
        "network:shared": network["shared"],
        "network:router:external": network["router:external"],
        **attrs,
    }


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine()


@pytest.mark.parametrize(
    ("caller", "target", "visible"),
    [
        (ALICE, net("alpha"), True),
        (READER, net("alpha"), True),
        (BOB, net("alpha"), False),
        (BOB, net("alpha", shared=True), True),
        (BOB, net("admin", external=True), True),
        (ADMIN, net("alpha"), True),
    ],
)
def test_network_visibility(engine: PolicyEngine, caller: Caller, target: dict[str, object], visible: bool) -> None:
    assert engine.allowed(caller, "get_network", target) is visible


@pytest.mark.parametrize("action", ["update_network", "delete_network"])
def test_only_owner_member_or_admin_changes_a_network(engine: PolicyEngine, action: str) -> None:
    shared = net("alpha", shared=True)
    assert engine.allowed(ALICE, action, shared)
    assert engine.allowed(ADMIN, action, shared)
    assert not engine.allowed(BOB, action, shared)
    assert not engine.allowed(READER, action, shared)


def test_provider_attributes_hidden_from_members_shown_to_admin(engine: PolicyEngine) -> None:
    network = net("alpha", external=True)
    seen = engine.filter_fields(ALICE, "network", network)
    assert not any(key.startswith("provider:") for key in seen)
    assert seen["router:external"] is True
    assert engine.filter_fields(ADMIN, "network", network) == network


def test_binding_attributes_hidden_from_members(engine: PolicyEngine) -> None:
    port = {
        "project_id": "alpha",
        "binding:host_id": "n1",
        "binding:vif_type": "ovs",
        "binding:vnic_type": "normal",
    }
    assert engine.filter_fields(ALICE, "port", port) == {"project_id": "alpha", "binding:vnic_type": "normal"}
    assert engine.filter_fields(ADMIN, "port", port) == port


@pytest.mark.parametrize(
    ("body", "refused_by"),
    [
        ({"name": "n"}, None),
        ({"shared": False, "router:external": False}, None),
        ({"shared": True}, "create_network:shared"),
        ({"router:external": True}, "create_network:router:external"),
        ({"provider:network_type": "flat"}, "create_network:provider:network_type"),
        ({"provider:segmentation_id": 7}, "create_network:provider:segmentation_id"),
    ],
)
def test_admin_only_network_attributes_on_create(
    engine: PolicyEngine, body: dict[str, object], refused_by: str | None
) -> None:
    target = {"project_id": "alpha", **body}
    assert engine.refused_write(ALICE, "create_network", body, target) == refused_by
    assert engine.refused_write(ADMIN, "create_network", body, target) is None


def test_update_checks_every_written_attribute(engine: PolicyEngine) -> None:
    target = net("alpha")
    assert engine.refused_write(ALICE, "update_network", {"shared": False}, target) == "update_network:shared"
    assert engine.refused_write(ALICE, "update_network", {"name": "x"}, target) is None


def test_subnet_only_on_own_network(engine: PolicyEngine) -> None:
    assert engine.allowed(ALICE, "create_subnet", on_net("alpha", net("alpha")))
    assert not engine.allowed(ALICE, "create_subnet", on_net("alpha", net("beta", shared=True)))
    assert engine.allowed(BOB, "get_subnet", on_net("alpha", net("alpha", shared=True)))
    assert not engine.allowed(BOB, "get_subnet", on_net("alpha", net("alpha")))


def test_ports_on_a_shared_network(engine: PolicyEngine) -> None:
    shared = net("alpha", shared=True)
    target = on_net("beta", shared)
    assert engine.allowed(BOB, "create_port", target)
    assert engine.refused_write(BOB, "create_port", {"fixed_ips": [{"subnet_id": "s"}]}, target) is None
    chosen = {"fixed_ips": [{"subnet_id": "s", "ip_address": "10.0.0.9"}]}
    assert engine.refused_write(BOB, "create_port", chosen, target) == "create_port:fixed_ips:ip_address"
    assert engine.refused_write(BOB, "create_port", {"mac_address": "fa:16:3e:00:00:01"}, target) is not None


def test_network_device_owner_needs_network_owner(engine: PolicyEngine) -> None:
    body = {"device_owner": "network:router_interface"}
    foreign = on_net("beta", net("alpha", shared=True), **body)
    assert engine.refused_write(BOB, "create_port", body, foreign) == "create_port:device_owner"
    compute = {"device_owner": "compute:nova"}
    assert engine.refused_write(BOB, "create_port", compute, on_net("beta", net("alpha"), **compute)) is None
    own = on_net("alpha", net("alpha"), **body)
    assert engine.refused_write(ALICE, "create_port", body, own) is None


def test_binding_host_is_admin_only_on_write(engine: PolicyEngine) -> None:
    body = {"binding:host_id": "node1"}
    target = on_net("alpha", net("alpha"), **body)
    assert engine.refused_write(ALICE, "create_port", body, target) == "create_port:binding:host_id"
    assert engine.refused_write(ADMIN, "update_port", body, target) is None


def test_router_gateway_members_may_set_network_but_not_snat(engine: PolicyEngine) -> None:
    target = {"project_id": "alpha"}
    gateway = {"external_gateway_info": {"network_id": "ext"}}
    assert engine.refused_write(ALICE, "create_router", gateway, target) is None
    no_snat = {"external_gateway_info": {"network_id": "ext", "enable_snat": False}}
    assert engine.refused_write(ALICE, "update_router", no_snat, target) == (
        "update_router:external_gateway_info:enable_snat"
    )
    fixed = {"external_gateway_info": {"network_id": "ext", "external_fixed_ips": [{"ip_address": "1.2.3.4"}]}}
    assert engine.refused_write(ALICE, "create_router", fixed, target) is not None
    assert engine.refused_write(ADMIN, "create_router", no_snat, target) is None


@pytest.mark.parametrize("action", ["add_router_interface", "remove_router_interface", "update_router"])
def test_router_interfaces_by_owner_only(engine: PolicyEngine, action: str) -> None:
    router = {"project_id": "alpha", "tenant_id": "alpha"}
    assert engine.allowed(ALICE, action, router)
    assert not engine.allowed(BOB, action, router)
    assert engine.allowed(ADMIN, action, router)


def test_floating_ips(engine: PolicyEngine) -> None:
    fip = {"project_id": "alpha", "tenant_id": "alpha"}
    assert engine.allowed(ALICE, "create_floatingip", fip)
    assert engine.refused_write(ALICE, "create_floatingip", {"floating_ip_address": "203.0.113.9"}, fip) == (
        "create_floatingip:floating_ip_address"
    )
    for action in ("get_floatingip", "update_floatingip", "delete_floatingip"):
        assert engine.allowed(ALICE, action, fip)
        assert not engine.allowed(BOB, action, fip)
    assert not engine.allowed(READER, "update_floatingip", fip)


def test_agents_and_quota_updates_are_admin_only(engine: PolicyEngine) -> None:
    for action in ("get_agent", "update_agent", "delete_agent", "update_quota", "delete_quota"):
        assert not engine.allowed(ALICE, action, {"project_id": "alpha"})
        assert engine.allowed(ADMIN, action, {"project_id": "alpha"})
    assert engine.allowed(ALICE, "get_quota", {"project_id": "alpha"})
    assert not engine.allowed(ALICE, "get_quota", {"project_id": "beta"})


def test_is_admin_follows_context_is_admin(engine: PolicyEngine) -> None:
    assert engine.is_admin("p", "u", ["admin"])
    assert not engine.is_admin("p", "u", ["member", "reader"])


def test_operator_policy_file_overrides_defaults(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        '"create_network:shared": "role:member"\n'
        '"context_is_admin": "role:admin or role:netadmin"\n'
        '"get_network:provider:network_type": "rule:regular_user"\n'
    )
    engine = PolicyEngine(str(path))
    assert engine.refused_write(ALICE, "create_network", {"shared": True}, {"project_id": "alpha"}) is None
    assert engine.is_admin("p", "u", ["netadmin"])
    seen = engine.filter_fields(ALICE, "network", net("alpha"))
    assert "provider:network_type" in seen and "provider:physical_network" not in seen
    assert not engine.allowed(BOB, "get_network", net("alpha"))


def test_remembered_decisions_follow_the_target_and_the_caller(engine: PolicyEngine) -> None:
    own, other = {"project_id": "alpha", "tenant_id": "alpha"}, {"project_id": "beta", "tenant_id": "beta"}
    for _ in range(2):  # the second round answers from the cache
        assert engine.decide(ALICE, "update_floatingip", own)
        assert not engine.decide(ALICE, "update_floatingip", other)
        assert engine.decide(BOB, "update_floatingip", other)
        assert not engine.decide(READER, "update_floatingip", own)
        assert engine.decide(ADMIN, "update_floatingip", other)
    shared = on_net("beta", net("alpha", shared=True))  # a bool in the target: evaluated, not cached
    assert engine.decide(BOB, "create_port:fixed_ips", shared) == engine.allowed(BOB, "create_port:fixed_ips", shared)


def test_edited_policy_file_takes_effect_and_drops_cached_decisions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text('"get_network:provider:network_type": "rule:admin_only"\n')
    engine = PolicyEngine(str(path))
    assert not engine.is_admin("p", "u", ["netadmin"])
    assert "provider:network_type" not in engine.filter_fields(ALICE, "network", net("alpha"))
    path.write_text(
        '"get_network:provider:network_type": "rule:regular_user"\n"context_is_admin": "role:admin or role:netadmin"\n'
    )
    os.utime(path, (time.time() + 5, time.time() + 5))
    monkeypatch.setattr(policy_engine, "RELOAD_INTERVAL", 0.0)
    assert engine.is_admin("p", "u", ["netadmin"])
    assert "provider:network_type" in engine.filter_fields(ALICE, "network", net("alpha"))


def test_missing_or_broken_policy_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="no such file"):
        PolicyEngine(str(tmp_path / "absent.yaml"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("create_network: [unclosed\n")
    with pytest.raises(PolicyFileError):
        PolicyEngine(str(broken))


def test_implied_roles_as_keystone_bootstraps_them(engine: PolicyEngine) -> None:
    member_only = Caller("alpha", roles=("Member",))
    assert engine.allowed(member_only, "get_quota", {"project_id": "alpha"})
    assert engine.allowed(member_only, "get_network", net("alpha"))
    assert not engine.allowed(Caller("alpha", roles=()), "get_network", net("alpha"))


def test_a_callers_field_filter_is_made_once_per_resource(engine: PolicyEngine) -> None:
    """Every response of a request renders through the caller's filter: it is kept, per caller and resource."""
    assert engine.field_filter(ALICE, "port") is engine.field_filter(Caller("alpha"), "port")
    assert engine.field_filter(ALICE, "port") is not engine.field_filter(ADMIN, "port")
    assert engine.field_filter(ALICE, "port") is not engine.field_filter(ALICE, "network")
    port = {"project_id": "alpha", "binding:host_id": "n1", "name": "p"}
    assert "binding:host_id" not in engine.field_filter(ALICE, "port")(port)
    assert engine.field_filter(ADMIN, "port")(port) == port
