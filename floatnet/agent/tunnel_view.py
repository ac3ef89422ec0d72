"""The agent's view of its vxlan devices between full observes: after an apply only the devices its own actions
touched are read again (one lookup each, whatever the number of networks); when OVS changed under the agent (a
deleted device turns its port's link down) all of them are."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from floatnet.agent import actions as A
from floatnet.agent.kernel import Kernel
from floatnet.agent.state import Tunnel
from floatnet.linux import vxlan


def _device(action: A.CreateVxlan | A.EditVxlanPeers | A.DeleteVxlan) -> str:
    return action.dev if isinstance(action, A.DeleteVxlan) else vxlan.dev_name(action.vni)


def reobserve(kernel: Kernel, before: Mapping[str, Tunnel], ovs_changed: bool) -> Mapping[str, Tunnel]:
    """Every device as the kernel holds it when OVS changed, else the view as it is."""
    return kernel.observe_tunnels() if ovs_changed else before


def after_apply(kernel: Kernel, before: Mapping[str, Tunnel], actions: Sequence[A.Action]) -> Mapping[str, Tunnel]:
    """The view once ``actions`` ran: the devices they touched re-read, the others as they were."""
    touched = {_device(a) for a in actions if isinstance(a, A.CreateVxlan | A.EditVxlanPeers | A.DeleteVxlan)}
    if not touched:
        return before
    return {**{n: t for n, t in before.items() if n not in touched}, **kernel.observe_tunnels(touched)}
