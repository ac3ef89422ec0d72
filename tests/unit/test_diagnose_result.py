"""The diagnosis runner: order, dependency skipping, crash containment, exit status and both renderings."""

from __future__ import annotations

import json

import pytest

from floatnet.diagnose.plan import CHECKS
from floatnet.diagnose.result import (
    Check,
    CheckFailed,
    Result,
    exit_status,
    failed,
    first_failure,
    passed,
    render_text,
    run_checks,
    to_json,
)


def ok_check(ctx: list[str]) -> Result:
    ctx.append("ran")
    return passed("fine", command="true")


def bad_check(ctx: list[str]) -> Result:
    ctx.append("ran")
    return failed("broken", "mend it", "show-it")


def raising_check(ctx: list[str]) -> Result:
    raise CheckFailed("refused", "start it", "probe-cmd")


def crashing_check(ctx: list[str]) -> Result:
    raise KeyError("surprise")


def statuses(results: list[Result]) -> dict[str, str]:
    return {r.name: r.status for r in results}


def test_all_pass_exit_zero_and_names_filled() -> None:
    calls: list[str] = []
    results = run_checks([Check("a", ok_check), Check("b", ok_check, ("a",))], calls)
    assert statuses(results) == {"a": "ok", "b": "ok"}
    assert calls == ["ran", "ran"]
    assert exit_status(results) == 0
    assert first_failure(results) is None


def test_failure_skips_dependents_transitively_but_runs_independent_checks() -> None:
    calls: list[str] = []
    checks = [
        Check("first", ok_check),
        Check("broken", bad_check, ("first",)),
        Check("child", ok_check, ("broken",)),
        Check("grandchild", ok_check, ("child",)),
        Check("independent", ok_check, ("first",)),
    ]
    results = run_checks(checks, calls)
    assert statuses(results) == {
        "first": "ok",
        "broken": "FAIL",
        "child": "skipped",
        "grandchild": "skipped",
        "independent": "ok",
    }
    assert len(calls) == 3  # first, broken, independent: skipped checks are never run
    assert results[2].reason == "needs broken" and results[3].reason == "needs child"
    assert first_failure(results) is not None and first_failure(results).name == "broken"  # type: ignore[union-attr]
    assert exit_status(results) == 1


def test_first_failure_is_the_earliest_in_order_not_the_last() -> None:
    results = run_checks([Check("x", bad_check), Check("y", bad_check)], [])
    assert statuses(results) == {"x": "FAIL", "y": "FAIL"}
    assert first_failure(results).name == "x"  # type: ignore[union-attr]


def test_checkfailed_and_unexpected_exceptions_become_failures() -> None:
    results = run_checks([Check("r", raising_check), Check("c", crashing_check), Check("after", ok_check)], [])
    assert statuses(results) == {"r": "FAIL", "c": "FAIL", "after": "ok"}
    assert (results[0].reason, results[0].fix, results[0].command) == ("refused", "start it", "probe-cmd")
    assert "KeyError" in results[1].reason and "surprise" in results[1].reason


def test_dependency_on_a_later_or_unknown_check_is_rejected() -> None:
    with pytest.raises(ValueError, match="do not run before it"):
        run_checks([Check("a", ok_check, ("b",)), Check("b", ok_check)], [])
    with pytest.raises(ValueError, match="duplicate"):
        run_checks([Check("a", ok_check), Check("a", ok_check)], [])


def test_real_plan_is_well_formed() -> None:
    """The shipped check list: unique names, dependencies only on earlier checks, API first."""
    seen: set[str] = set()
    for check in CHECKS:
        assert check.name not in seen
        assert set(check.needs) <= seen, check.name
        seen.add(check.name)
    assert CHECKS[0].name == "api.floatingip"
    names = [c.name for c in CHECKS]
    assert names.index("router.fip_address") < names.index("nat.dnat") < names.index("router.upstream_arp")
    assert names.index("uplink.external") < names.index("router.upstream_arp")


def test_render_text_one_line_per_check_with_fix_and_command() -> None:
    results = run_checks([Check("api.thing", ok_check), Check("nat.map", bad_check, ("api.thing",))], [])
    results += run_checks([Check("z", bad_check), Check("later", ok_check, ("z",))], [])[1:]
    text = render_text("203.0.113.101", results)
    lines = text.splitlines()
    assert lines[0] == "diagnose 203.0.113.101"
    assert lines[1].split()[:3] == ["ok", "api.thing", "fine"]  # an ok check is one line: no "see:"
    assert lines[2].split()[:3] == ["FAIL", "nat.map", "broken"]
    assert "fix:  mend it" in lines[3] and "see:  show-it" in lines[4]
    assert lines[5].split()[:2] == ["skipped", "later"] and len(lines) == 7
    assert lines[-1].startswith("first broken hop: nat.map: broken (1 failed, 1 skipped)")


def test_render_text_all_ok_and_hint() -> None:
    results = [Result(n, True, "fine", hint="mind the VMware note") for n in ("a", "b")]
    text = render_text("x", results)
    assert text.count("hint: mind the VMware note") == 1
    assert text.splitlines()[-1] == "all 2 checks ok"


def test_json_has_every_check_and_the_first_failure() -> None:
    results = run_checks([Check("a", ok_check), Check("b", bad_check), Check("c", ok_check, ("b",))], [])
    doc = json.loads(to_json("fip", results))
    assert doc["ok"] is False and doc["first_failure"] == "b" and doc["subject"] == "fip"
    assert [(c["name"], c["status"]) for c in doc["checks"]] == [("a", "ok"), ("b", "FAIL"), ("c", "skipped")]
    assert doc["checks"][1]["fix"] == "mend it" and doc["checks"][1]["command"] == "show-it"
    assert json.loads(to_json("fip", results[:1]))["first_failure"] is None
