"""Check results, the ordered runner with dependency skipping, and the two renderings (text lines and JSON).

A diagnosis is a list of small checks in the order a packet's path is walked. Each check names the checks it
depends on; once a check fails, every later check that depends on it (directly or through a skipped one) is
reported as ``skipped`` rather than run, so the FIRST ``FAIL`` in the list is the broken hop. Independent
checks still run (a broken NAT map says nothing about DHCP), so one run can show every separate problem.

This module is pure: no network, no kernel, no API, so the ordering and rendering are unit-tested without
root.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Generic, TypeVar

OK, FAIL, SKIPPED = "ok", "FAIL", "skipped"

Ctx = TypeVar("Ctx")


@dataclass(frozen=True)
class Result:
    """What one check found.

    ``reason`` says what was seen, ``fix`` what an operator should do about a failure, ``command`` the command
    that shows the evidence (so the operator can look for themselves), ``hint`` an explanation worth reading
    even when the check passed (e.g. the seed's VMware promiscuous-mode note).
    """

    name: str
    ok: bool
    reason: str
    fix: str = ""
    command: str = ""
    hint: str = ""
    skipped: bool = False

    @property
    def status(self) -> str:
        if self.skipped:
            return SKIPPED
        return OK if self.ok else FAIL


def passed(reason: str, command: str = "", hint: str = "") -> Result:
    """A passing result; the runner fills in the check's name."""
    return Result("", True, reason, command=command, hint=hint)


def failed(reason: str, fix: str, command: str = "", hint: str = "") -> Result:
    """A failing result with the fix an operator should apply; the runner fills in the check's name."""
    return Result("", False, reason, fix=fix, command=command, hint=hint)


class CheckFailed(Exception):
    """Raised inside a check (or a helper it calls) to fail it with a reason, a fix and a command."""

    def __init__(self, reason: str, fix: str = "", command: str = "") -> None:
        super().__init__(reason)
        self.reason, self.fix, self.command = reason, fix, command


@dataclass(frozen=True)
class Check(Generic[Ctx]):
    """One hop's test: ``run(ctx)`` returns a Result; ``needs`` names earlier checks that must have passed."""

    name: str
    run: Callable[[Ctx], Result]
    needs: tuple[str, ...] = field(default=())


def run_checks(checks: Sequence[Check[Ctx]], ctx: Ctx) -> list[Result]:
    """Run ``checks`` in order against ``ctx``, skipping those whose dependencies did not pass.

    A dependency must name an EARLIER check (a later or unknown name is a programming error: ValueError), so
    the order alone decides what the first failure is. An exception escaping a check becomes that check's
    FAIL, never a crash of the whole diagnosis.
    """
    results: dict[str, Result] = {}
    for check in checks:
        if check.name in results:
            raise ValueError(f"duplicate check name {check.name!r}")
        unknown = [need for need in check.needs if need not in results]
        if unknown:
            raise ValueError(f"check {check.name!r} depends on {unknown}, which do not run before it")
        blocked = [need for need in check.needs if not results[need].ok]
        if blocked:
            results[check.name] = Result(check.name, False, f"needs {', '.join(blocked)}", skipped=True)
            continue
        results[check.name] = replace(_run_one(check, ctx), name=check.name)
    return list(results.values())


def _run_one(check: Check[Ctx], ctx: Ctx) -> Result:
    try:
        return check.run(ctx)
    except CheckFailed as exc:
        return failed(exc.reason, exc.fix, exc.command)
    except Exception as exc:  # noqa: BLE001 - a buggy or surprised check must not hide the others
        return failed(f"the check could not run: {type(exc).__name__}: {exc}", "report this as a floatnet bug")


def first_failure(results: Iterable[Result]) -> Result | None:
    """The broken hop: the first result that failed (skipped ones never count)."""
    return next((r for r in results if r.status == FAIL), None)


def exit_status(results: Iterable[Result]) -> int:
    """0 when nothing failed, 1 otherwise (skips only happen after a failure, so they need no rule of their
    own).
    """
    return 1 if first_failure(results) is not None else 0


def render_text(subject: str, results: Sequence[Result]) -> str:
    """One line per check (``ok``/``FAIL``/``skipped``, name, reason). Under a FAIL, its fix and the command
    that shows the evidence; under any line, its hint, each distinct hint once (``-f json`` carries all).
    """
    width = max((len(r.name) for r in results), default=0)
    pad = " " * (8 + width + 2)
    lines, hints = [f"diagnose {subject}"], set()
    for result in results:
        lines.append(f"{result.status:<7} {result.name:<{width}}  {result.reason}")
        if result.status == FAIL:
            lines += [f"{pad}fix:  {result.fix}"] if result.fix else []
            lines += [f"{pad}see:  {result.command}"] if result.command else []
        if result.hint and result.hint not in hints:
            hints.add(result.hint)
            lines.append(f"{pad}hint: {result.hint}")
    lines.append(_summary(results))
    return "\n".join(lines)


def _summary(results: Sequence[Result]) -> str:
    broken = first_failure(results)
    if broken is None:
        return f"all {len(results)} checks ok"
    failures = sum(1 for r in results if r.status == FAIL)
    skipped = sum(1 for r in results if r.status == SKIPPED)
    return f"first broken hop: {broken.name}: {broken.reason} ({failures} failed, {skipped} skipped)"


def to_json(subject: str, results: Sequence[Result]) -> str:
    """The machine-readable form: every check with its status, plus the first failure's name (or null)."""
    broken = first_failure(results)
    checks = [{**asdict(r), "status": r.status} for r in results]
    return json.dumps(
        {
            "subject": subject,
            "ok": broken is None,
            "first_failure": broken.name if broken else None,
            "checks": checks,
        },
        indent=2,
    )
