"""A security-group change row re-plans only the groups it names (:mod:`floatnet.agent.sg_changes`), over the
in-memory kernel and server (no root): the agent asks the server for those groups alone (no network, no port),
plans their chains, cuts and member sets and never their ports; rows of other hosts' networks cost nothing;
a group that becomes unrenderable still fails its ports closed."""

from __future__ import annotations

from typing import Any

from floatnet.agent import sg_actions as S
from floatnet.agent.dirty import Dirty
from floatnet.agent.loop import Agent
from tests.unit.agent_fakes import FakeKernel, FakeServer
from tests.unit.test_agent_loop import agent
from tests.unit.test_agent_plan import NET
from tests.unit.test_agent_security import EGRESS, HTTP, SG, SG_B, SSH, VM, VM2, change, secured, world

OTHER = "sg-other"


def converged(*extra: dict[str, Any]) -> tuple[FakeServer, FakeKernel, Agent]:
    """Three ports: two in SG, one in OTHER (SG's rules admit OTHER's members); everything applied."""
    server, kernel = world(secured(), secured(VM2, ip="10.0.0.6"), secured("vm-port3", groups=(OTHER,),
                                                                         ip="10.0.0.7"))  # fmt: skip
    server.groups[SG]["rules"].append({"id": "rule-peers", "direction": "ingress", "ethertype": "IPv4",
                                       "remote_group_id": OTHER})  # fmt: skip
    server.groups[OTHER] = {"id": OTHER, "stateful": True, "rules": [dict(EGRESS, id="rule-other-egress")]}
    loop = agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    server.asked.clear()
    return server, kernel, loop


def test_rule_created_asks_its_group_alone_and_plans_no_port() -> None:
    server, kernel, loop = converged()
    before = len(kernel.applied)
    server.groups[SG]["rules"].append(HTTP)
    dirty = loop.on_changes([dict(change("security_group_rule", "rule-http"), op="create")])
    assert server.asked == [{"routers": set(), "networks": set(), "groups": set(), "rules": {"rule-http"}}]
    assert (dirty.namespaces, dirty.groups) == (set(), {SG})
    loop.reconcile(dirty)
    done = kernel.applied[before:]
    assert [type(a).__name__ for a in done] == ["ReplaceGroup"] and done[0].group == f"sg:{SG}", done
    assert kernel.security.groups[SG] == loop.desired.groups[SG].rules.fingerprint()  # type: ignore[union-attr]


def test_rule_deleted_asks_the_group_holding_it_and_cuts_only_its_ports() -> None:
    server, kernel, loop = converged()
    before = len(kernel.applied)
    server.groups[SG]["rules"] = [r for r in server.groups[SG]["rules"] if r["id"] != SSH["id"]]
    loop.reconcile(loop.on_changes([dict(change("security_group_rule", SSH["id"]), op="delete")]))
    assert [a["groups"] for a in server.asked] == [{SG}] and server.asked[0]["networks"] == set()
    done = kernel.applied[before:]
    assert [type(a).__name__ for a in done] == ["ReplaceGroup", "CutRules"], done
    assert isinstance(done[1], S.CutRules)
    assert sorted(p.port_id for p in done[1].ports) == [VM, VM2]


def test_member_moved_refetches_the_group_and_the_groups_naming_it() -> None:
    server, kernel, loop = converged()
    before = len(kernel.applied)
    server.elsewhere[OTHER] = ["10.0.0.30"]
    loop.reconcile(loop.on_changes([change("security_group", OTHER, network=None)]))
    assert [(a["groups"], a["networks"]) for a in server.asked] == [({OTHER, SG}, set())]
    assert kernel.applied[before:] == [S.EditMembers(group=f"sg:{OTHER}", group_id=OTHER,
                                                     add=frozenset({"10.0.0.30"}))]  # fmt: skip


def test_rows_of_other_hosts_networks_and_unknown_groups_cost_nothing() -> None:
    server, kernel, loop = converged()
    dirty = loop.on_changes([change("security_group_rule", "rule-x", network="net-elsewhere"),
                             change("security_group", "sg-unknown", network=None)])  # fmt: skip
    assert not dirty and server.asked == []


def test_unchanged_group_plans_nothing() -> None:
    server, kernel, loop = converged()
    before = len(kernel.applied)
    loop.reconcile(loop.on_changes([change("security_group", SG)]))  # a rename
    assert kernel.applied[before:] == []


def test_group_turned_unrenderable_fails_its_ports_closed() -> None:
    server, kernel, loop = converged()
    server.groups[OTHER]["rules"] = [dict(SSH, id="rule-odd", protocol="no-such-proto")]
    dirty = loop.on_changes([dict(change("security_group_rule", "rule-odd"), op="create")])
    assert dirty.namespaces == {f"qdhcp-{NET}"}, "its ports' network is planned whole"
    loop.reconcile(dirty)
    assert server.statuses["ports"]["vm-port3"] == "ERROR"
    assert server.statuses["ports"][VM] == "ACTIVE"


def test_deleted_group_is_dropped_and_the_rules_naming_it_refetched() -> None:
    server, kernel, loop = converged()
    server.groups[SG_B] = {"id": SG_B, "stateful": True, "rules": []}
    server.groups[SG]["rules"].append({"id": "rule-b", "direction": "ingress", "ethertype": "IPv4",
                                       "remote_group_id": SG_B})  # fmt: skip
    loop.reconcile(loop.on_changes([dict(change("security_group_rule", "rule-b"), op="create")]))
    assert loop.desired is not None and SG_B in loop.desired.members and SG_B in kernel.security.members
    del server.groups[SG_B]  # its rules and the rules naming it go with it
    server.groups[SG]["rules"] = [r for r in server.groups[SG]["rules"] if r["id"] != "rule-b"]
    server.asked.clear()
    loop.reconcile(loop.on_changes([dict(change("security_group", SG_B), op="delete")]))
    assert [a["groups"] for a in server.asked] == [{SG_B, SG}]
    assert SG_B not in loop.desired.groups and SG_B not in loop.desired.members
    rules = loop.desired.groups[SG].rules
    assert rules is not None and SG_B not in rules.remote_groups()
    assert kernel.security.groups[SG] == rules.fingerprint()


def test_a_groups_only_step_does_not_reread_ovs() -> None:
    """Security actions change nft and conntrack only: the step keeps its view of OVS (a listing of every port
    costs ~25 ms at 1,000 ports)."""
    server, kernel, loop = converged()
    reads: list[int] = []
    observe = kernel.observe_ovs
    kernel.observe_ovs = lambda: reads.append(1) or observe()  # type: ignore[method-assign]
    server.groups[SG]["rules"].append(HTTP)
    loop.reconcile(loop.on_changes([dict(change("security_group_rule", "rule-http"), op="create")]))
    assert kernel.security.groups[SG] == loop.desired.groups[SG].rules.fingerprint()  # type: ignore[union-attr]
    assert reads == []
