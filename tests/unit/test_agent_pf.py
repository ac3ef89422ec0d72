"""Port forwardings in the agent's plans (pure): the fast path for a changed floating IP gives the same actions
and the same cached view as the whole-router planner; element removals come before additions; a floating IP
shared by forwardings holds its /32 but no floating-IP pair."""

from __future__ import annotations

from typing import Any

import pytest

from floatnet.agent import actions as A
from floatnet.agent.plan import desired_nat, plan
from floatnet.agent.plan_fips import delta, plan_fip_delta, project_fip_delta
from floatnet.agent.projection import project
from floatnet.linux import names
from floatnet.linux.nat_pf import elements
from tests.unit.test_agent_fips import edits, narrowed
from tests.unit.test_agent_plan import CTX, R1, fip, router_doc, state


def shared(n: int, *forwardings: tuple[str, str, str, str]) -> dict[str, Any]:
    """A floating IP with port forwardings (protocol, external range, internal IP, internal range)."""
    pfs = [{"id": f"pf{i}", "protocol": p, "external_port_range": e, "internal_ip_address": ip,
            "internal_port_range": r} for i, (p, e, ip, r) in enumerate(forwardings)]  # fmt: skip
    return dict(fip(n), fixed_ip_address=None, port_id=None, port_forwardings=pfs)


SSH = ("tcp", "2222:2222", "10.0.0.5", "22:22")
WEB = ("tcp", "8000:8009", "10.0.0.6", "80:80")
CASES = {
    "first forwarding": ([fip(1)], [fip(1), shared(2, SSH)], {shared(2)["id"]}),
    "another forwarding": ([shared(2, SSH)], [shared(2, SSH, WEB)], {shared(2)["id"]}),
    "forwarding changed": ([shared(2, SSH)], [shared(2, ("udp", "2222:2222", "10.0.0.5", "22:22"))],
                           {shared(2)["id"]}),
    "last forwarding gone": ([fip(1), shared(2, SSH)], [fip(1)], {shared(2)["id"]}),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_fast_path_equals_the_whole_router_plan(case: str) -> None:
    before_fips, after_fips, asked = CASES[case]
    before, after = state([router_doc(fips=before_fips)]), state([router_doc(fips=after_fips)])
    router = narrowed(R1, [f for f in after_fips if f["id"] in asked]).routers[R1]
    known = before.routers[R1].floatingips
    diff = delta(router, {i: known[i] for i in asked if i in known}, router.floatingips)
    fast = plan_fip_delta(router, diff)
    assert fast and edits(fast) == edits(plan(after, project(before), CTX))
    ns = names.router_ns(R1)
    assert project_fip_delta(project(before).namespaces[ns], router, diff) == project(after).namespaces[ns]


def test_removals_come_before_additions_and_hold_a_slash32() -> None:
    before, after = state([router_doc(fips=[shared(2, SSH)])]), state([router_doc(fips=[shared(2, WEB)])])
    actions = plan(after, project(before), CTX)
    kinds = [type(a) for a in actions if isinstance(a, A.DelForwarding | A.AddForwarding)]
    assert kinds == [A.DelForwarding, A.AddForwarding]
    nat = desired_nat(after.routers[R1])
    assert nat.fips == {} and nat.forwardings == frozenset(elements("203.0.113.102", "tcp", (8000, 8009),
                                                                   "10.0.0.6", (80, 80)))  # fmt: skip
    qg = project(after).namespaces[names.router_ns(R1)].links[names.qg_dev(f"gw{R1}")]
    assert "203.0.113.102/32" in qg.addresses
