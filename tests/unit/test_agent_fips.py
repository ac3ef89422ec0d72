"""The floating-IP fast path: the same actions and the same cached view as the whole-router planner, from the
changed floating IPs alone."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from floatnet.agent import actions as A
from floatnet.agent.desired import DesiredState, Router
from floatnet.agent.merge import complete_routers, gone_fips
from floatnet.agent.plan import plan
from floatnet.agent.plan_fips import built, delta, plan_fip_delta, project_fip_delta, same_structure
from floatnet.agent.projection import project
from floatnet.linux import names
from tests.unit.test_agent_plan import CTX, R1, fip, router_doc, state


def edits(actions: list[A.Action]) -> list[Any]:
    """Actions with address changes written as (add, remove)."""
    out: list[Any] = []
    for a in actions:
        if isinstance(a, A.EditAddresses):
            out.append(("addresses", a.dev, a.add, a.remove, a.refs))
        else:
            out.append(a)
    return out


def narrowed(router_id: str, fips: list[dict[str, Any]]) -> DesiredState:
    doc = router_doc(router_id, fips=fips)
    doc["floatingips_partial"] = True
    return state([doc], complete=False)


CASES = {
    "added": ([fip(1), fip(2)], [fip(1), fip(2), fip(3, "10.0.0.7")], {fip(3)["id"]}),
    "removed": ([fip(1), fip(2), fip(3, "10.0.0.7")], [fip(1), fip(3, "10.0.0.7")], {fip(2)["id"]}),
    "moved": ([fip(1), fip(2, "10.0.0.6")], [fip(1), fip(2, "10.0.0.9")], {fip(2)["id"]}),
    "address reused": (
        [fip(1), fip(2, "10.0.0.6")],
        [fip(1), dict(fip(3, "10.0.0.7"), floating_ip_address=fip(2)["floating_ip_address"])],
        {fip(2)["id"], fip(3)["id"]},
    ),
    "several": ([fip(1), fip(2, "10.0.0.6")], [fip(4, "10.0.0.8"), fip(2, "10.0.0.6")], {fip(1)["id"], fip(4)["id"]}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_path_equals_the_whole_router_plan(case: str) -> None:
    before_fips, after_fips, asked = CASES[case]
    before, after = state([router_doc(fips=before_fips)]), state([router_doc(fips=after_fips)])
    answer = narrowed(R1, [f for f in after_fips if f["id"] in asked])
    router = answer.routers[R1]
    known = before.routers[R1].floatingips
    diff = delta(router, {i: known[i] for i in asked if i in known}, router.floatingips)
    fast = plan_fip_delta(router, diff)
    assert fast and edits(fast) == edits(plan(after, project(before), CTX))
    ns = names.router_ns(R1)
    assert project_fip_delta(project(before).namespaces[ns], router, diff) == project(after).namespaces[ns]
    completed = complete_routers(answer, before, asked)
    assert completed is not None and completed.routers[R1] == after.routers[R1]


def test_nothing_changed_plans_nothing() -> None:
    """The same mapping answered again, or held by another floating IP id: no kernel work."""
    known = state([router_doc(fips=[fip(1), fip(2)])]).routers[R1].floatingips
    same = narrowed(R1, [fip(2)]).routers[R1]
    assert plan_fip_delta(same, delta(same, {fip(2)["id"]: known[fip(2)["id"]]}, same.floatingips)) == []
    taken_over = narrowed(R1, [dict(fip(3), floating_ip_address=fip(2)["floating_ip_address"])]).routers[R1]
    before = {fip(2)["id"]: known[fip(2)["id"]]}
    assert plan_fip_delta(taken_over, delta(taken_over, before, taken_over.floatingips)) == []


def test_only_floating_ip_differences_keep_the_structure() -> None:
    known: Router = state([router_doc(fips=[fip(1)])]).routers[R1]
    assert same_structure(known, narrowed(R1, [fip(2)]).routers[R1])
    assert not same_structure(known, state([router_doc(fips=[fip(1)], snat=False)]).routers[R1])
    other_gateway = router_doc(fips=[])
    other_gateway["gateway"]["ip_address"] = "203.0.113.99"
    assert not same_structure(known, state([other_gateway]).routers[R1])


def test_the_fast_path_needs_a_built_router() -> None:
    desired = state([router_doc(fips=[fip(1)])])
    router, ns = desired.routers[R1], names.router_ns(R1)
    cached = project(desired).namespaces[ns]
    assert built(router, cached)
    assert not built(router, None)
    assert not built(router, replace(cached, nat=None))
    assert not built(router, replace(cached, links={}))


def test_gone_floating_ips_from_the_asked_ones_only() -> None:
    old = state([router_doc(fips=[fip(1), fip(2), fip(3)])])
    new = state([router_doc(fips=[fip(1)])])
    assert gone_fips(old, new, {R1}) == {fip(2)["id"], fip(3)["id"]}
    assert gone_fips(old, new, {R1}, {fip(2)["id"], "never-here"}) == {fip(2)["id"]}
