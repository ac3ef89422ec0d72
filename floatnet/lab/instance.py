"""Instances: a namespace standing in for a VM, plugged into OVS like a hypervisor plugs one.

``create``: a compute port bound to the host (through the API), a namespace with ``eth0`` carrying the port's MAC,
its veth peer ``tap<port_id[:11]>`` in the bridge from the port's ``binding:vif_details`` (else the physnet's bridge
from ``bridge_mappings``) with the hypervisor's external_ids — behind the hybrid plug (``qbr``/``qvb``/``qvo``, the
``qvo`` in OVS) when the details say ``ovs_hybrid_plug``, as os-vif does —, a DHCP client (and a DHCPv6 client
when the port has an address on a ``dhcpv6-stateful`` subnet), and echo/whoami/push servers (TCP 7, 80 and 19) so
floating-IP tests have something to reach. Every step is recorded before it is taken, so
``delete`` (and ``lab down``) can remove a half-built instance.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from floatnet.lab import dhcp6_client, dhcp_client, hypervisor, procs
from floatnet.lab import state as lab_state
from floatnet.lab.client import LabClient
from floatnet.lab.context import LabContext
from floatnet.lab.names import ECHO_PORT, PUSH_PORT, WHOAMI_PORT
from floatnet.lab.state import Instance, LabState
from floatnet.lab.upstream import tx_offload_off
from floatnet.linux import links, netns
from floatnet.linux.names import tap_dev
from floatnet.linux.sg_render import qvb_dev, qvo_dev


class LabError(RuntimeError):
    """A lab operation cannot be done as asked (the message says why)."""


def _bridge_of(ctx: LabContext, port: dict[str, Any], network: dict[str, Any]) -> str:
    details = port.get("binding:vif_details") or {}
    if details.get("bridge_name"):
        return str(details["bridge_name"])
    physnet = network.get("provider:physical_network")
    if physnet in ctx.config.bridge_mappings:
        return ctx.config.bridge_mappings[physnet]
    raise LabError(f"network {network['id']} has no bridge: physnet {physnet!r} is not in bridge_mappings")


def _start_processes(ctx: LabContext, inst: Instance) -> None:
    script = dhcp_client.write_script(ctx.files / "udhcpc.sh")
    etc = ctx.netns_etc(inst.ns)
    etc.mkdir(parents=True, exist_ok=True)
    (etc / "resolv.conf").touch()
    env = {
        dhcp_client.RESOLV_ENV: str(etc / "resolv.conf"),
        dhcp_client.LEASE_ENV: str(ctx.lease_file(inst.name)),
    }
    command = ["env", *(f"{k}={v}" for k, v in env.items()), *dhcp_client.argv(script, "eth0", inst.name)]
    inst.procs["dhcp"] = procs.spawn(
        procs.in_ns(inst.ns, command), ctx.log_file(f"{inst.name}-dhcp"), str(script)
    )
    servers = [
        ctx.python, "-m", "floatnet.lab.probe", "serve", "--label", inst.name,
        "--echo", f"0.0.0.0:{ECHO_PORT}", "--whoami", f"0.0.0.0:{WHOAMI_PORT}", "--push", f"0.0.0.0:{PUSH_PORT}",
    ]  # fmt: skip
    inst.procs["servers"] = procs.spawn(
        procs.in_ns(inst.ns, servers), ctx.log_file(f"{inst.name}-servers"), f"--label {inst.name}"
    )


def _stateful6(api: LabClient, port: dict[str, Any]) -> bool:
    """Whether the port has an address on a ``dhcpv6-stateful`` subnet (one only DHCPv6 hands out)."""
    subnets = {fixed["subnet_id"] for fixed in port.get("fixed_ips", []) if ":" in fixed.get("ip_address", "")}
    return any(api.show("subnet", s).get("ipv6_address_mode") == "dhcpv6-stateful" for s in sorted(subnets))


def _start_dhcp6(ctx: LabContext, inst: Instance) -> None:
    """dhclient -6 in the instance (see :mod:`floatnet.lab.dhcp6_client`), its files under the lab's."""
    dhcp6_client.write_files(ctx.files)
    _remove_dhcp6_files(ctx, inst.name)
    _, pidfile, _ = dhcp6_client.state_files(ctx.files, inst.name)
    command = dhcp6_client.argv(ctx.files, inst.name, "eth0")
    inst.procs["dhcp6"] = procs.spawn(procs.in_ns(inst.ns, command), ctx.log_file(f"{inst.name}-dhcp6"), str(pidfile))


def _remove_dhcp6_files(ctx: LabContext, name: str) -> None:
    for path in dhcp6_client.state_files(ctx.files, name):
        path.unlink(missing_ok=True)


def _wire(ctx: LabContext, inst: Instance, mtu: int | None, hybrid: bool) -> None:
    """The instance's veth (``eth0`` inside, the tap outside), through the hybrid plug when the binding asks for
    it (as os-vif does), into OVS."""
    netns.ensure(inst.ns)
    links.ensure_veth(inst.tap, "eth0", inst.ns, mac=inst.mac, mtu=mtu, peer_name="eth0", netns=ctx.ovs_netns)
    tx_offload_off(inst.tap, ctx.ovs_netns)
    tx_offload_off("eth0", inst.ns)
    if hybrid:
        inst.vif = hypervisor.plug_hybrid(ctx.ovs_netns, inst.tap, inst.port_id)
        for dev in (inst.vif, qvb_dev(inst.port_id)):
            tx_offload_off(dev, ctx.ovs_netns)
    hypervisor.plug_vif(ctx.ovsdb, inst.bridge, inst.vif or inst.tap, inst.port_id, inst.mac, ctx.names.prefix)


def _hypervisor(ctx: LabContext, state: LabState, host: str) -> LabContext:
    """The context plugging into ``host``'s OVS: a multi-node lab's node (which must be running), else the
    lab's own OVS."""
    node = state.nodes.get(host)
    if node is None:
        if state.nodes:
            raise LabError(f"no node {host!r} in lab {ctx.names.prefix!r} (nodes: {', '.join(sorted(state.nodes))})")
        return ctx
    if node.failed:
        raise LabError(f"node {host!r} has failed: 'lab node recover {host}' first")
    return replace(ctx, ovsdb=node.ovsdb, ovs_netns=node.ns)


def _at(ctx: LabContext, inst: Instance) -> LabContext:
    """The context of the OVS ``inst`` is plugged into (its node's, else the lab's)."""
    return replace(ctx, ovsdb=inst.ovsdb, ovs_netns=inst.ovs_netns) if inst.ovs_netns else ctx


def create(ctx: LabContext, api: LabClient, name: str, network: str, host: str | None = None,
           wait: float = 30.0, boot_when_active: float = 0.0) -> Instance:  # fmt: skip
    """Create instance ``name`` on ``network`` bound to ``host`` (in a multi-node lab: plugged into that
    node); with ``wait`` > 0, return once it holds a DHCP lease. With ``boot_when_active`` > 0 its processes
    (DHCP client, servers) start only once the port is ``ACTIVE`` (up to that many seconds), as Nova boots a VM
    only after the agent reported the port plugged; else at once (the client retries while the port is still
    on the dead VLAN)."""
    state = lab_state.load(ctx.state_dir, ctx.names.prefix)
    if name in state.instances:
        raise LabError(f"instance {name!r} exists already (lab prefix {ctx.names.prefix!r})")
    host = host or ctx.host
    hv = _hypervisor(ctx, state, host)
    net = api.find("network", network)
    port = api.create_port(net["id"], name, host, device_id=f"{ctx.names.prefix}{name}")
    inst = Instance(
        name=name, ns=ctx.names.instance_ns(name), port_id=port["id"], network_id=net["id"],
        mac=port["mac_address"], tap=tap_dev(port["id"]), bridge=_bridge_of(ctx, port, net), host=host,
    )  # fmt: skip
    if hv is not ctx:
        inst.ovsdb, inst.ovs_netns = hv.ovsdb or "", hv.ovs_netns or ""
    hybrid = bool((port.get("binding:vif_details") or {}).get("ovs_hybrid_plug"))
    inst.vif = qvo_dev(port["id"]) if hybrid else ""  # recorded before it exists: remove() cleans a half plug
    state.instances[name] = inst
    lab_state.save(ctx.state_dir, state)
    ctx.lease_file(name).unlink(missing_ok=True)
    _wire(hv, inst, net.get("mtu") or None, hybrid)
    if boot_when_active > 0:
        _wait_active(api, inst, boot_when_active)
    _start_processes(ctx, inst)
    if _stateful6(api, port):
        _start_dhcp6(ctx, inst)
    lab_state.save(ctx.state_dir, state)
    if wait > 0:
        wait_for_lease(ctx, name, wait)
    return inst


def _wait_active(api: LabClient, inst: Instance, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while api.show("port", inst.port_id)["status"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise LabError(f"instance {inst.name!r}: its port {inst.port_id} is not ACTIVE after {timeout:g} s")
        time.sleep(0.01)


def restart(ctx: LabContext, state: LabState, inst: Instance) -> None:
    """Plug ``inst`` in again and restart its processes (its node came back from a power loss)."""
    _wire(_at(ctx, inst), inst, None, bool(inst.vif))
    _start_processes(ctx, inst)
    lab_state.save(ctx.state_dir, state)


def wait_for_lease(ctx: LabContext, name: str, timeout: float) -> dict[str, str]:
    """The instance's lease once its DHCP client has one; raises LabError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        lease = dhcp_client.read_lease(ctx.lease_file(name))
        if lease and lease.get("ip"):
            return lease
        if time.monotonic() > deadline:
            log = ctx.log_file(f"{name}-dhcp")
            raise LabError(f"instance {name!r} got no DHCP lease within {timeout:g} s (see {log})")
        time.sleep(0.05)


def _remove_etc(ctx: LabContext, ns: str) -> None:
    etc = ctx.netns_etc(ns)
    (etc / "resolv.conf").unlink(missing_ok=True)
    if etc.is_dir() and not any(etc.iterdir()):
        etc.rmdir()


def _unplug(ctx: LabContext, state: LabState, inst: Instance, errors: list[str]) -> None:
    """Take ``inst``'s devices out of the OVS it is plugged into and delete them."""
    ovsdb, ovs_netns = inst.ovsdb, inst.ovs_netns
    if not ovs_netns:
        ovsdb, ovs_netns = state.ovsdb or ctx.ovsdb or "", state.ovs_netns or ctx.ovs_netns or ""
    procs.best_effort(errors, f"unplug {inst.tap}", hypervisor.unplug, ovsdb or None, inst.vif or inst.tap)
    if inst.vif:
        procs.best_effort(errors, f"unplug {inst.vif}", hypervisor.unplug_hybrid, ovs_netns or None, inst.port_id)
    procs.best_effort(errors, f"delete {inst.tap}", links.delete_link, inst.tap, ovs_netns or None)


def remove(ctx: LabContext, state: LabState, inst: Instance, api: LabClient | None) -> list[str]:
    """Tear ``inst`` down: processes by PID, OVS port, veth, namespace, its /etc/netns, its API port.

    Every step is tried even when an earlier one failed (an OVS or a server already gone); the failures are
    returned as messages.
    """
    errors: list[str] = []
    for key in list(inst.procs):
        procs.best_effort(errors, f"stop {key} of {inst.name}", procs.stop, inst.procs.pop(key))
    if not inst.ovs_netns or netns.exists(inst.ovs_netns):  # a failed node's OVS is gone, its taps with it
        _unplug(ctx, state, inst, errors)
    procs.best_effort(errors, f"delete namespace {inst.ns}", netns.delete, inst.ns)
    procs.best_effort(errors, f"remove /etc/netns/{inst.ns}", _remove_etc, ctx, inst.ns)
    ctx.lease_file(inst.name).unlink(missing_ok=True)
    _remove_dhcp6_files(ctx, inst.name)
    if api is not None:
        procs.best_effort(errors, f"delete port {inst.port_id}", api.delete_port, inst.port_id)
    state.instances.pop(inst.name, None)
    lab_state.save(ctx.state_dir, state)
    return errors


def delete(ctx: LabContext, api: LabClient | None, name: str) -> list[str]:
    """Delete instance ``name`` (LabError if the lab has none of that name); returns what failed."""
    state = lab_state.load(ctx.state_dir, ctx.names.prefix)
    if name not in state.instances:
        raise LabError(f"no instance {name!r} in lab {ctx.names.prefix!r}")
    return remove(ctx, state, state.instances[name], api)


def listing(ctx: LabContext) -> list[dict[str, str]]:
    """One row per instance: name, namespace, port, MAC, leased IP, DNS servers, DHCP client state."""
    state = lab_state.load(ctx.state_dir, ctx.names.prefix)
    rows = []
    for inst in state.instances.values():
        lease = dhcp_client.read_lease(ctx.lease_file(inst.name)) or {}
        dhcp = inst.procs.get("dhcp")
        rows.append({
            "name": inst.name, "namespace": inst.ns, "port_id": inst.port_id, "mac_address": inst.mac,
            "ip_address": lease.get("ip", ""), "dns": lease.get("dns", ""), "bridge": inst.bridge,
            "dhcp_client": "running" if dhcp and procs.alive(dhcp) else "stopped",
        })  # fmt: skip
    return rows


def dhcp_lease(ctx: LabContext, name: str) -> dict[str, str] | None:
    """The instance's current DHCP lease as recorded by its client's script, or None; with a DHCPv6 lease
    too, its address, DNS servers and search domains as ``ip6``, ``dns6``, ``domain6``."""
    lease = dhcp_client.read_lease(ctx.lease_file(name))
    lease6 = dhcp_client.read_lease(dhcp6_client.state_files(ctx.files, name)[2])
    if lease is None or lease6 is None:
        return lease
    return {**lease, "ip6": lease6.get("ip", ""), "dns6": lease6.get("dns", ""), "domain6": lease6.get("domain", "")}
