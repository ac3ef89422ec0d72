"""The agent's view of the security-group tables between full observes: projected from the actions that
succeeded (no listing of 1,000 ports' chains per change), re-read from the kernel when one of them failed or
the tables changed under the agent — keeping the agent's memory of the rules it applied
(:func:`~floatnet.agent.plan_security.remember_applied`)."""

from __future__ import annotations

from collections.abc import Sequence

from floatnet.agent import sg_actions as S
from floatnet.agent.actions import Action
from floatnet.agent.apply import ApplyResult
from floatnet.agent.kernel import Kernel
from floatnet.agent.plan_security import project_security, remember_applied
from floatnet.agent.state import Security

SG_ACTIONS = (S.ReplaceGroup, S.DeleteGroup, S.EditMembers, S.CutRules, S.ReplacePortFilter, S.DeletePortFilter)


def reobserve(kernel: Kernel, before: Security) -> Security:
    """The tables as the kernel holds them, with the applied rules that still match."""
    return remember_applied(kernel.observe_security(), before)


def after_apply(kernel: Kernel, before: Security, actions: Sequence[Action], result: ApplyResult) -> Security:
    """The tables after ``actions`` ran: projected, or re-read if a security action's group failed."""
    mine = [a for a in actions if isinstance(a, SG_ACTIONS)]
    if not mine:
        return before
    projected = project_security(before, mine)
    if any(a.group in result.failed_groups for a in mine):  # the rules of the groups that did get replaced stay
        return reobserve(kernel, projected)
    return projected
