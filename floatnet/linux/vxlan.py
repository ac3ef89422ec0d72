"""VXLAN devices: one Linux ``vxlan`` device per tunnelled network, in the namespace OVS runs in.

**Why a Linux device and not an OVS ``vxlan`` port.** floatnet's own OVS runs the userspace ``netdev`` datapath
(this kernel has no openvswitch module); OVS's own tunnel ports on that datapath need OVS's tunnel routing (the
underlay addresses and routes configured in OVS, ``ovs-appctl tnl/...``) — a second routing table next to the
kernel's, invisible to ``ip``. A kernel ``vxlan`` device per network (``id VNI local LOCAL_IP dstport 4789
nolearning``) uses the namespace's own routes and neighbours, is added to the integration bridge as an
ordinary access port with the network's local tag (so OVS needs no flows for it: the tag *is* the network), and
is seen and repaired like every other device the agent owns. The cost is one device per network instead of
one port per peer, which is what Neutron's Linux bridge agent does too.

**Flooding.** Broadcast and unknown-unicast frames go to the all-zero FDB entries: one per peer that carries the
network (the server computes them), so a network's floods reach only the nodes that host it. ``nolearning``:
the device's FDB holds only what floatnet put there, so the agent's view of it is exact and a moved instance
is never black-holed by a stale learned entry; MAC learning happens in OVS on each node. The price is that
unicast to a remote MAC is also replicated to every peer of that network (Neutron's l2population would add
per-MAC entries; not done here).

Every function takes the namespace (``None``: the agent's own) and raises ``KernelError`` on failure.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from floatnet.linux import rtdump
from floatnet.linux.links import _index, _ipr_call

INTEGRATION_BRIDGE = "br-int"  # where vxlan networks plug (Neutron's name; the server's port binding says the same)
PREFIX = "vxlan-"
DSTPORT = 4789  # IANA's VXLAN port, Neutron's default vxlan_udp_port
ZERO_MAC = "00:00:00:00:00:00"


def dev_name(vni: int) -> str:
    """The device of VNI ``vni``: ``vxlan-<vni>`` (at most 14 characters for a 24-bit VNI)."""
    return f"{PREFIX}{vni}"


@dataclass(frozen=True)
class VxlanDevice:
    """A floatnet vxlan device as the kernel holds it; ``peers``: the remote IPs of its all-zero FDB entries."""

    name: str
    vni: int
    local: str | None
    port: int
    learning: bool
    mtu: int
    up: bool
    peers: frozenset[str]


def _data(msg: Any) -> dict[str, Any]:
    info = msg.get("IFLA_LINKINFO")
    data = info.get("IFLA_INFO_DATA") if info else None
    return {name: value for name, value in (data.get("attrs") if data else ())}


def _device(msg: Any) -> VxlanDevice:
    """A device from its link message (called inside its namespace: the flood entries are dumped there)."""
    data = _data(msg)
    return VxlanDevice(
        name=msg.get("IFLA_IFNAME"),
        vni=int(data.get("IFLA_VXLAN_ID", 0)),
        local=data.get("IFLA_VXLAN_LOCAL"),
        port=int(data.get("IFLA_VXLAN_PORT", 0)),
        learning=bool(data.get("IFLA_VXLAN_LEARNING", 1)),
        mtu=int(msg.get("IFLA_MTU")),
        up=bool(msg["flags"] & 1),
        peers=frozenset(rtdump.flood_destinations(msg["index"])),
    )


def observe(netns: str | None, names: Iterable[str]) -> dict[str, VxlanDevice]:
    """The vxlan devices among ``names`` in ``netns`` (missing ones and other kinds left out), with their flood
    entries. Looked up by name, never by dumping the namespace: the OVS namespace holds every instance's
    devices (thousands of links take seconds to decode)."""

    def body(ipr: IPRoute) -> dict[str, VxlanDevice]:
        found = {}
        for name in sorted(set(names)):
            try:
                [msg] = ipr.link("get", ifname=name)
            except NetlinkError as exc:
                if exc.code != 19:  # ENODEV: not there
                    raise
                continue
            info = msg.get("IFLA_LINKINFO")
            if info is not None and info.get("IFLA_INFO_KIND") == "vxlan":
                found[name] = _device(msg)
        return found

    return _ipr_call(netns, "observe vxlan devices", ",".join(sorted(set(names))) or "-", body)


def create(netns: str | None, vni: int, local: str, mtu: int | None) -> None:
    """(Re)create the device of ``vni``: one with other settings is deleted first; it is left up."""
    name = dev_name(vni)

    def body(ipr: IPRoute) -> None:
        idx = _index(ipr, name)
        if idx is not None:
            ipr.link("del", index=idx)
        ipr.link(
            "add", ifname=name, kind="vxlan", vxlan_id=vni, vxlan_local=local, vxlan_port=DSTPORT, vxlan_learning=0
        )
        idx = _index(ipr, name)
        ipr.link("set", index=idx, state="up", **({"mtu": mtu} if mtu else {}))

    _ipr_call(netns, "create vxlan device", name, body)


def edit_peers(netns: str | None, vni: int, add: Iterable[str] = (), remove: Iterable[str] = ()) -> None:
    """Add and remove the all-zero (flood) FDB entries of the device of ``vni``."""
    name = dev_name(vni)

    def body(ipr: IPRoute) -> None:
        idx = _index(ipr, name)
        if idx is None:
            raise NetlinkError(19, f"no device {name}")
        for address in sorted(remove):
            try:
                ipr.fdb("del", ifindex=idx, lladdr=ZERO_MAC, dst=address)
            except NetlinkError as exc:
                if exc.code != 2:  # ENOENT: already gone
                    raise
        for address in sorted(add):
            try:
                ipr.fdb("append", ifindex=idx, lladdr=ZERO_MAC, dst=address)
            except NetlinkError as exc:
                if exc.code != 17:  # EEXIST: already there
                    raise

    _ipr_call(netns, "edit vxlan flood entries", name, body)


def delete(netns: str | None, name: str) -> None:
    """Delete a vxlan device if it exists."""

    def body(ipr: IPRoute) -> None:
        idx = _index(ipr, name)
        if idx is not None:
            ipr.link("del", index=idx)

    _ipr_call(netns, "delete vxlan device", name, body)
