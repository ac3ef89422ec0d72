"""The reconcile loop's one door to the kernel: observe, apply, and say what changed under the agent.

:class:`Kernel` is what :class:`floatnet.agent.loop.Agent` needs of the node: read the state of what it owns
(everything, one namespace, OVS ports, dnsmasq processes), run a plan, and tell which owned namespaces changed
behind its back (:mod:`floatnet.agent.kernel_watch`: netlink, nftables, dnsmasq and OVS daemon exits).
:class:`LinuxKernel` is the real one, over :mod:`floatnet.linux` (through :mod:`floatnet.agent.observe` and
:mod:`floatnet.agent.handlers`); the unit tests drive the same loop with an in-memory implementation
(``tests/unit/agent_fakes.py``), so dirty tracking, retries, failure isolation and status reporting are
tested without root.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from floatnet.agent import observe as O
from floatnet.agent.actions import Action
from floatnet.agent.apply import ApplyResult, run_actions
from floatnet.agent.handlers import handlers
from floatnet.agent.kernel_watch import KernelWatch
from floatnet.agent.state import Namespace, Observed, OvsPort, Security, Tunnel
from floatnet.linux import names
from floatnet.linux.ovs_daemon import DAEMONS, OvsDaemons


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

    def observe_security(self) -> Security:
        """The security-group tables: port filters, group fingerprints, remote-group members."""

    def observe_tunnels(self, names: Iterable[str] | None = None) -> dict[str, Tunnel]:
        """The vxlan devices among ``names`` (None: behind OVS's ``vxlan-`` ports), by name."""

    def apply(self, actions: Sequence[Action]) -> ApplyResult:
        """Run the actions in order; a failing one marks its resources and the rest go on."""

    def changed(self) -> set[str]:
        """Owned namespaces changed by someone else since the last call (``"*"``: everything); never blocks."""


class LinuxKernel:
    """:class:`Kernel` over the real kernel, OVS and dnsmasq of one :class:`~floatnet.agent.observe.Dataplane`."""

    def __init__(self, dp: O.Dataplane, daemons: OvsDaemons | None = None) -> None:
        self.dp = dp
        self.handlers = handlers(dp)
        self._ovs_cache: tuple[int, dict[str, OvsPort]] | None = None
        self.watch = KernelWatch(
            lambda: _service_pids(dp),
            daemon_pids=lambda: _daemon_pids(daemons),
            restart_daemons=daemons.start if daemons is not None else lambda: None,
            watch_security=True,
            security_ns=dp.ovs_netns,
        )

    def observe(self, wanted: Iterable[str]) -> Observed:
        observed = O.observe(self.dp, wanted)
        self.watch.track(observed.namespaces)
        return observed

    def observe_namespace(self, name: str) -> Namespace | None:
        return O.observe_namespace(name, self.dp.radvd, self.dp.keepalived, self.dp.conntrackd)

    def observe_ovs(self) -> dict[str, OvsPort]:
        """The OVS ports; the same (cached) answer while the IDL's generation has not moved."""
        generation = self.dp.ovs.generation()
        if self._ovs_cache is None or self._ovs_cache[0] != generation:
            self._ovs_cache = (generation, O.observe_ovs(self.dp))
        return dict(self._ovs_cache[1])

    def observe_dhcp(self) -> dict[str, str]:
        return O.observe_dhcp(self.dp)

    def observe_security(self) -> Security:
        return O.observe_security(self.dp)

    def observe_tunnels(self, names: Iterable[str] | None = None) -> dict[str, Tunnel]:
        return O.observe_tunnels(self.dp, self.observe_ovs() if names is None else names)

    def apply(self, actions: Sequence[Action]) -> ApplyResult:
        result = run_actions(actions, self.handlers)
        if actions:
            self.watch.applied({a.group for a in actions})
        return result

    def changed(self) -> set[str]:
        return self.watch.changed()


def _service_pids(dp: O.Dataplane) -> list[tuple[str, int]]:
    """The running dnsmasq, radvd, keepalived and conntrackd processes, each with the namespace it serves (an HA
    router's namespace has several)."""
    dhcp = [(names.dhcp_ns(network_id), pid) for network_id, pid in dp.dnsmasq.running().items()]
    routers = [(names.router_ns(router_id), pid) for daemon in (dp.radvd, dp.keepalived, dp.conntrackd)
               for router_id, pid in daemon.running().items()]  # fmt: skip
    return dhcp + routers


def _daemon_pids(daemons: OvsDaemons | None) -> list[int]:
    if daemons is None:
        return []
    return [pid for pid in (daemons.pid(d) for d in DAEMONS) if pid is not None]
