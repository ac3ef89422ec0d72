"""The reconcile loop's one door to the kernel: observe and apply, nothing else.

:class:`Kernel` is what :class:`floatnet.agent.loop.Agent` needs of the node: read the state of what it owns
(everything, one namespace, OVS ports, dnsmasq processes) and run a plan. :class:`LinuxKernel` is the real
one, over :mod:`floatnet.linux` (through :mod:`floatnet.agent.observe` and :mod:`floatnet.agent.handlers`); the
unit tests drive the same loop with an in-memory implementation (``tests/unit/agent_fakes.py``), so dirty
tracking, retries, failure isolation and status reporting are tested without root.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from floatnet.agent import observe as O
from floatnet.agent.actions import Action
from floatnet.agent.apply import ApplyResult, run_actions
from floatnet.agent.handlers import handlers
from floatnet.agent.state import Namespace, Observed, OvsPort


class Kernel(Protocol):
    """Observe what the agent owns; apply actions (failures isolated per resource, never raised)."""

    def observe(self, wanted: Iterable[str]) -> Observed:
        """Everything owned, plus the ``wanted`` namespaces when they exist (adopted)."""

    def observe_namespace(self, name: str) -> Namespace | None:
        """One namespace as it is; None when it does not exist."""

    def observe_ovs(self) -> dict[str, OvsPort]:
        """Every OVS port by name."""

    def observe_dhcp(self) -> dict[str, str]:
        """Networks with a running dnsmasq -> the fingerprint of its configuration."""

    def apply(self, actions: Sequence[Action]) -> ApplyResult:
        """Run the actions in order; a failing one marks its resources and the rest go on."""


class LinuxKernel:
    """:class:`Kernel` over the real kernel, OVS and dnsmasq of one :class:`~floatnet.agent.observe.Dataplane`."""

    def __init__(self, dp: O.Dataplane) -> None:
        self.dp = dp
        self.handlers = handlers(dp)

    def observe(self, wanted: Iterable[str]) -> Observed:
        return O.observe(self.dp, wanted)

    def observe_namespace(self, name: str) -> Namespace | None:
        return O.observe_namespace(name)

    def observe_ovs(self) -> dict[str, OvsPort]:
        return O.observe_ovs(self.dp)

    def observe_dhcp(self) -> dict[str, str]:
        return O.observe_dhcp(self.dp)

    def apply(self, actions: Sequence[Action]) -> ApplyResult:
        return run_actions(actions, self.handlers)
