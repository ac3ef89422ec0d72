"""``diagnose``'s HA hop (pure logic): exactly one replica holds the floating IP, judged from every hosting
agent's ``ha_state`` and, on the node diagnose runs on, its namespace; zero or two holders fail naming the
nodes. The check itself runs on the API checks' in-memory seed made HA (a dict answers the GETs)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from floatnet.diagnose.checks_ha import Replica, judge
from floatnet.diagnose.facts import Facts, Local
from floatnet.diagnose.plan import CHECKS
from floatnet.diagnose.reader import NeutronReader
from floatnet.diagnose.result import run_checks
from tests.unit.test_diagnose_api import ROUTER, SEED, FakeNeutron

FIP, NS = "203.0.113.101", f"qrouter-{ROUTER}"


def test_one_holder_passes_and_names_it() -> None:
    result = judge(FIP, NS, [Replica("net1", "active"), Replica("net2", "standby"), Replica("net3", "standby")])
    assert result.status == "ok" and "net1 (active)" in result.reason


@pytest.mark.parametrize(
    ("replicas", "words"),
    [
        ([Replica("net1", "standby"), Replica("net2", "standby")], ["no replica holds", "net1 (standby)",
                                                                    "net2 (standby)"]),
        ([Replica("net1", "active"), Replica("net2", "active")], ["2 replicas hold", "split brain", "net1", "net2"]),
        ([Replica("net1", None)], ["no replica holds", "net1 (no report)"]),
        ([], ["no agent hosts the router"]),
    ],
)  # fmt: skip
def test_zero_or_two_holders_fail_naming_the_nodes(replicas: list[Replica], words: list[str]) -> None:
    result = judge(FIP, NS, replicas)
    assert result.status == "FAIL" and all(word in result.reason for word in words), result.reason
    assert result.fix


def test_this_nodes_namespace_outweighs_its_report() -> None:
    """A report is a heartbeat old: the local kernel decides for the local replica."""
    stale = [Replica("net1", "standby", holds=True), Replica("net2", "active")]
    result = judge(FIP, NS, stale)
    assert result.status == "FAIL" and "net1 (standby, namespace holds it)" in result.reason
    lost = [Replica("net1", "active", holds=False), Replica("net2", "standby")]
    assert judge(FIP, NS, lost).status == "FAIL"


class HaNeutron(FakeNeutron):
    """The seed with ``/routers/{id}/l3-agents`` answered from ``hosting``."""

    def __init__(self, state: dict[str, dict[str, dict[str, Any]]], hosting: list[dict[str, Any]]) -> None:
        super().__init__(state)
        self.hosting = hosting

    def __call__(self, path: str, params: dict[str, Any] | None = None) -> tuple[int, Any]:
        if path == f"/routers/{ROUTER}/l3-agents":
            return 200, {"agents": self.hosting}
        return super().__call__(path, params)


def _ha_check(ha: bool, hosting: list[dict[str, Any]]) -> Any:
    state = copy.deepcopy(SEED)
    state["router"][ROUTER]["ha"] = ha
    checks = [c for c in CHECKS if c.name.startswith("api.") or c.name == "ha.single_holder"]
    results = run_checks(checks, Facts(NeutronReader(HaNeutron(state, hosting)), FIP, Local(host="elsewhere")))
    return next(r for r in results if r.name == "ha.single_holder")


def test_the_check_asks_every_hosting_agent() -> None:
    two = [{"host": "net1", "ha_state": "active"}, {"host": "net2", "ha_state": "active"}]
    result = _ha_check(True, two)
    assert result.status == "FAIL" and "net1 (active)" in result.reason and "net2 (active)" in result.reason
    assert (
        _ha_check(True, [{"host": "net1", "ha_state": "active"}, {"host": "net2", "ha_state": "standby"}]).status
        == "ok"
    )
    assert _ha_check(False, []).status == "ok"  # not HA: a single replica by construction
