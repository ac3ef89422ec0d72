"""Plugging devices into Open vSwitch the way a hypervisor does (Nova's os-vif), through ``ovs-vsctl``.

An instance's tap device is added to the bridge with ``external_ids`` ``iface-id`` (the Neutron port id),
``attached-mac`` and ``iface-status=active``: this is all the agent gets to see, exactly as with a real VM.
When the binding says ``ovs_hybrid_plug`` (Neutron's agent with security groups), the tap goes into a
per-port Linux bridge and the ``qvo`` end of its veth pair is what OVS gets (os-vif's ``VIFBridge``):
:func:`plug_hybrid`. Ports are added on the dead VLAN (os-vif's ``isolate_vif``): nothing flows until the
agent, having installed the port's filter, sets the network's tag.
Every port the lab adds also carries ``external_ids:floatnet-lab=<prefix>`` so its owner can be told at a
glance.
"""

from __future__ import annotations

from floatnet.lab.procs import run
from floatnet.linux import port_filter

LAB_KEY = "floatnet-lab"
DEAD_VLAN = "4095"


def _vsctl(db: str | None, *args: str) -> str:
    argv = ["ovs-vsctl", "--timeout=10"]
    if db:
        argv.append(f"--db={db}")
    return run([*argv, *args]).stdout.strip()


def bridge_exists(db: str | None, bridge: str) -> bool:
    """True if ``bridge`` exists in the OVS database."""
    argv = ["ovs-vsctl", "--timeout=10", *([f"--db={db}"] if db else []), "br-exists", bridge]
    return run(argv, check=False).returncode == 0


def ensure_bridge(db: str | None, bridge: str, datapath_type: str) -> None:
    """Create ``bridge`` with ``datapath_type`` unless it exists (the agent creates it too)."""
    if bridge_exists(db, bridge):
        return
    _vsctl(
        db, "--may-exist", "add-br", bridge, "--", "set", "Bridge", bridge, f"datapath_type={datapath_type}"
    )


def plug_physical(db: str | None, bridge: str, device: str, prefix: str) -> None:
    """Add a "physical" device to a physnet bridge as a trunk (seed: ``ovs-vsctl add-port br-eth1 eth1``)."""
    _vsctl(
        db, "--may-exist", "add-port", bridge, device,
        "--", "set", "Interface", device, f"external_ids:{LAB_KEY}={prefix}",
    )  # fmt: skip


def plug_vif(db: str | None, bridge: str, device: str, port_id: str, mac: str, prefix: str) -> None:
    """Add an instance's device to ``bridge`` (on the dead VLAN) with the external_ids a hypervisor sets for
    Neutron's agent."""
    _vsctl(
        db, "--may-exist", "add-port", bridge, device, f"tag={DEAD_VLAN}",
        "--", "set", "Interface", device,
        f"external_ids:iface-id={port_id}",
        f'external_ids:attached-mac="{mac}"',
        "external_ids:iface-status=active",
        f"external_ids:{LAB_KEY}={prefix}",
    )  # fmt: skip


def unplug(db: str | None, device: str) -> None:
    """Remove ``device``'s port from whatever bridge holds it (nothing if none does)."""
    _vsctl(db, "--if-exists", "del-port", device)


def plug_hybrid(netns: str | None, tap: str, port_id: str) -> str:
    """The hybrid plug (``tap`` -- ``qbr<id>`` -- ``qvb<id>``/``qvo<id>``) in the OVS namespace ``netns``;
    returns the device to add to OVS (``qvo<id>``)."""
    return port_filter.ensure_plug(netns, port_id, tap)


def unplug_hybrid(netns: str | None, port_id: str) -> None:
    """Remove a port's ``qbr`` bridge and ``qvb``/``qvo`` pair (nothing if it has none)."""
    port_filter.delete_plug(netns, port_id)
