"""Security groups through the agent's one reconcile path, over the in-memory kernel and server (no root):
filter before tag (fail closed), ACTIVE only once filtered, zones stable across restarts, a rule change
touches its group only and cuts what a removed rule admitted, a member joining is one set element, port
security off removes the filter and cuts the zone, drift of the tables is repaired."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from floatnet.agent import actions as A
from floatnet.agent import sg_actions as S
from floatnet.agent.apply import run_actions
from floatnet.agent.desired import DEAD_VLAN, parse_state
from floatnet.agent.dirty import Dirty
from floatnet.agent.kernel_watch import SECURITY
from floatnet.agent.state import OvsPort
from floatnet.linux import sg_render as r
from tests.unit.agent_fakes import FakeKernel, FakeServer
from tests.unit.test_agent_loop import agent
from tests.unit.test_agent_plan import NET, network_doc, port_doc

VM, VM2 = "vm-port", "vm-port2"
SG, SG_B = "sg-web", "sg-peers"
SSH = {"id": "rule-ssh", "direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22,
       "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0", "remote_group_id": None}  # fmt: skip
HTTP = dict(SSH, id="rule-http", port_range_min=80, port_range_max=80)
EGRESS = {"id": "rule-egress", "direction": "egress", "ethertype": "IPv4"}


def secured(pid: str = VM, groups: tuple[str, ...] = (SG,), ip: str = "10.0.0.5", **extra: Any) -> dict[str, Any]:
    doc = port_doc(pid)
    doc["fixed_ips"] = [{"subnet_id": "sub1", "ip_address": ip}]
    doc.update({"port_security_enabled": True, "security_groups": list(groups), "allowed_address_pairs": []})
    doc.update(extra)
    return doc


def world(*ports: dict[str, Any], plug: str = "qvo") -> tuple[FakeServer, FakeKernel]:
    """A server with the network, the ports and group SG (SSH + egress); each port plugged as ``plug``."""
    server = FakeServer([], [network_doc()])
    server.groups[SG] = {"id": SG, "stateful": True, "rules": [SSH, EGRESS]}
    kernel = FakeKernel()
    for port in ports:
        server.ports[port["id"]] = port
        name = (plug + port["id"])[:14]
        kernel.ovs[name] = OvsPort(name, "br-eth1", DEAD_VLAN, port["id"], 5)
    return server, kernel


def kinds(actions: list[A.Action]) -> list[str]:
    return [type(a).__name__ for a in actions if not isinstance(a, A.EnsureDhcp | A.CreateNamespace)]


def port_actions(kernel: FakeKernel, pid: str = VM) -> list[str]:
    return [type(a).__name__ for a in kernel.applied if a.group == f"port:{pid}"]


def test_filter_installed_before_the_tag_and_active_only_once_filtered() -> None:
    server, kernel = world(secured())
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    assert port_actions(kernel) == ["ReplacePortFilter", "SetTag"]
    sg_first = [type(a).__name__ for a in kernel.applied if a.group.startswith(("sg:", "port:"))]
    assert sg_first[0] == "ReplaceGroup", "a group's chains exist before a port jumps to them"
    assert kernel.ovs["qvovm-port"].tag == 100
    assert server.statuses["ports"][VM] == "ACTIVE"
    assert kernel.security.ports[VM].zone == 1


def test_restart_on_an_up_to_date_node_plans_nothing_and_keeps_zones() -> None:
    server, kernel = world(secured(), secured(VM2, ip="10.0.0.6"))
    agent(server, kernel).reconcile(Dirty(everything=True))
    zones = {p: f.zone for p, f in kernel.security.ports.items()}
    assert sorted(zones.values()) == [1, 2]
    before = len(kernel.applied)
    agent(server, kernel).reconcile(Dirty(everything=True))  # a new agent process: nothing in memory
    assert len(kernel.applied) == before, kernel.applied[before:]
    assert {p: f.zone for p, f in kernel.security.ports.items()} == zones


def test_unfiltered_port_is_never_tagged() -> None:
    """The filter gates the tag: when installing it fails, the tag action of the same port is skipped."""
    calls: list[str] = []

    def refuse(action: A.Action) -> None:
        raise OSError("nft refused")

    actions = [
        S.ReplacePortFilter(group="port:p", port=r.PortFilter("p", 1, "fa:16:3e:00:00:01")),
        A.SetTag(group="port:p", refs=(("port", "p"),), port="qvop", tag=100),
        A.SetTag(group="port:q", port="qvoq", tag=100),
    ]
    result = run_actions(actions, {S.ReplacePortFilter: refuse, A.SetTag: lambda a: calls.append(a.port)})
    assert calls == ["qvoq"]
    assert result.errors[("port", "p")] == "skipped: nft refused"


def test_port_plugged_straight_into_ovs_fails_closed() -> None:
    server, kernel = world(secured(), plug="tap")
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    assert kernel.ovs["tapvm-port"].tag == DEAD_VLAN
    assert VM not in kernel.security.ports
    assert server.statuses["ports"][VM] == "ERROR"
    reasons = {e["id"]: e["reason"] for e in loop.configurations()["errors"]}
    assert "plugged straight into OVS" in reasons[VM]


def test_unrenderable_group_fails_closed_others_enforced() -> None:
    server, kernel = world(secured(), secured(VM2, groups=("sg-odd",), ip="10.0.0.6"))
    server.groups["sg-odd"] = {"id": "sg-odd", "stateful": True, "rules": [dict(SSH, protocol="no-such-proto")]}
    agent(server, kernel).reconcile(Dirty(everything=True))
    assert (server.statuses["ports"][VM], server.statuses["ports"][VM2]) == ("ACTIVE", "ERROR")
    assert kernel.ovs["qvovm-port2"].tag == DEAD_VLAN


def change(kind: str, ident: str, network: str | None = NET) -> dict[str, Any]:
    return {"kind": kind, "id": ident, "op": "update", "router_id": None, "network_id": network}


def test_rule_removed_replaces_the_group_only_and_cuts_its_flows() -> None:
    server, kernel = world(secured())
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    before = len(kernel.applied)
    server.groups[SG]["rules"] = [HTTP, EGRESS]
    loop.reconcile(loop.on_changes([change("security_group_rule", "rule-ssh")]))
    done = kernel.applied[before:]
    assert kinds(done) == ["ReplaceGroup", "CutRules"], done
    cut = done[1]
    assert isinstance(cut, S.CutRules)
    assert [rule.port_range_min for rule in cut.rules] == [22]
    assert [(p.port_id, p.zone) for p in cut.ports] == [(VM, 1)]
    assert server.statuses["ports"][VM] == "ACTIVE"


def test_member_joining_a_remote_group_is_one_set_element() -> None:
    server, kernel = world(secured())
    server.groups[SG]["rules"] = [dict(SSH, remote_ip_prefix=None, remote_group_id=SG_B), EGRESS]
    server.elsewhere[SG_B] = ["10.0.0.20"]
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    assert kernel.security.members[SG_B] == {"10.0.0.20"}
    before = len(kernel.applied)
    server.elsewhere[SG_B].append("10.0.0.21")
    loop.reconcile(loop.on_changes([change("security_group", SG_B, network=None)]))
    assert kernel.applied[before:] == [S.EditMembers(group=f"sg:{SG_B}", group_id=SG_B, add=frozenset({"10.0.0.21"}))]


def test_port_security_off_removes_the_filter_cuts_the_zone_and_tags() -> None:
    server, kernel = world(secured())
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    server.ports[VM].update(port_security_enabled=False, security_groups=[])
    loop.reconcile(loop.on_changes([change("port", VM)]))
    assert VM not in kernel.security.ports
    assert kernel.cuts == [S.DeletePortFilter(group=f"port:{VM}", refs=((("port", VM)),), port_id=VM, zone=1)]
    assert kernel.ovs["qvovm-port"].tag == 100 and server.statuses["ports"][VM] == "ACTIVE"


def test_port_gone_then_unused_group_swept_in_order() -> None:
    server, kernel = world(secured())
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    del server.ports[VM]
    loop.reconcile(Dirty(everything=True))  # the fake refuses deleting a group a filter still jumps to
    assert kernel.security.ports == {} and kernel.security.groups == {}
    assert loop.configurations()["errors"] == []


def test_zone_of_a_removed_port_is_reused() -> None:
    server, kernel = world(secured(), secured(VM2, ip="10.0.0.6"))
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    del server.ports[VM]
    loop.reconcile(Dirty(everything=True))
    server.ports["vm-port3"] = secured("vm-port3", ip="10.0.0.7")
    kernel.ovs["qvovm-port3"] = OvsPort("qvovm-port3", "br-eth1", DEAD_VLAN, "vm-port3", 6)
    loop.reconcile(Dirty(everything=True))
    assert {p: f.zone for p, f in kernel.security.ports.items()} == {VM2: 2, "vm-port3": 1}


def test_tables_changed_by_hand_are_repaired_by_the_loop() -> None:
    server, kernel = world(secured())
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    before = len(kernel.applied)
    ports, groups = dict(kernel.security.ports), dict(kernel.security.groups)
    del ports[VM]
    groups[SG] = "tampered"
    kernel.security = replace(kernel.security, ports=ports, groups=groups)
    kernel.dirty = {SECURITY}
    loop.step()
    assert kinds(kernel.applied[before:]) == ["ReplaceGroup", "ReplacePortFilter"]
    assert kernel.security.ports[VM].zone == 1 and server.statuses["ports"][VM] == "ACTIVE"
    assert loop.repairs[("port", VM)][1] == "security-group tables changed"


def test_parse_port_security_and_groups() -> None:
    doc = {
        "seq": 1,
        "ports": [secured(allowed_address_pairs=[{"ip_address": "10.0.0.64/26", "mac_address": None}])],
        "security": {
            "groups": [{"id": SG, "stateful": False, "rules": [SSH]}],
            "remote_groups": {SG_B: ["10.0.0.5", "10.0.0.64/26", "fd00::5/128"]},
        },
    }
    desired = parse_state(doc, complete=True)
    port = desired.ports[VM]
    assert port.port_security and port.security_groups == (SG,) and port.allowed_pairs == (("10.0.0.64/26", None),)
    group = desired.groups[SG]
    assert not group.stateful and group.rules is not None and len(group.rules.rules) == 1
    assert desired.members[SG_B] == {"10.0.0.5", "fd00::5"}, "a CIDR pair is not a member address"


def test_port_deleted_by_the_feed_removes_its_filter_then_its_unused_group() -> None:
    server, kernel = world(secured())
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    before = len(kernel.applied)
    del server.ports[VM]
    loop.reconcile(loop.on_changes([{"kind": "port", "id": VM, "op": "delete", "network_id": NET}]))
    assert kinds(kernel.applied[before:]) == ["SetTag", "DeletePortFilter", "DeleteGroup"]
    assert kernel.security.groups == {} and loop.configurations()["errors"] == []


def test_an_element_deleted_by_hand_is_put_back() -> None:
    server, kernel = world(secured())
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    before = len(kernel.applied)
    port = kernel.security.ports[VM]
    dropped = replace(port, parts=frozenset(p for p in port.parts if not p.startswith("port_src4")))
    kernel.security = replace(kernel.security, ports={VM: dropped})
    kernel.dirty = {SECURITY}
    loop.step()
    assert kinds(kernel.applied[before:]) == ["ReplacePortFilter"]
    assert kernel.security.ports[VM] == port
