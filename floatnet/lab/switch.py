"""The multi-node lab's switch: a namespace with one Linux bridge per physnet and one for management.

Every node's physnet NICs (``eth<i>`` in the node, plugged into its OVS bridge by its agent) and the upstream
namespace's links end here, on bridge ``sw<i>`` of physnet ``i``: a Linux bridge without VLAN filtering forwards
tagged frames as they are (a trunk, for VLAN physnets) and untagged ones too (flat), so instances on a compute
node reach the router on the network node as through a top-of-rack switch. Bridge ``swm`` joins the nodes'
management addresses (``10.99.0.N``, the ``[ovs] local_ip`` a tunnel would use). Everything lives in the
switch's namespace: nothing is added to the host's.
"""

from __future__ import annotations

from floatnet.lab import procs
from floatnet.linux import links, netns

MGMT_BRIDGE = "swm"


def physnet_bridge(index: int) -> str:
    """The switch's bridge of physnet ``index`` (the order of ``bridge_mappings``)."""
    return f"sw{index}"


def _ip(ns: str, *args: str) -> None:
    procs.run(["ip", "-n", ns, *args])


def ensure(ns: str, physnets: int) -> None:
    """The switch namespace with its bridges up (idempotent)."""
    netns.ensure(ns)
    present = {link.name for link in links.list_links(ns)}
    for bridge in [physnet_bridge(i) for i in range(physnets)] + [MGMT_BRIDGE]:
        if bridge not in present:
            _ip(ns, "link", "add", bridge, "type", "bridge")
        _ip(ns, "link", "set", bridge, "up")


def attach(ns: str, device: str, bridge: str) -> None:
    """Make ``device`` (in the switch's namespace) a port of ``bridge``, up, TX checksum offload off (the
    nodes' OVS run the userspace datapath)."""
    _ip(ns, "link", "set", device, "master", bridge, "up")
    links.tx_offload_off(device, ns)
