"""Layer-2 and DHCP hops: ports on the right OVS bridge with the right VLAN tag, the physnet uplinks, and the
network's dnsmasq (namespace, process, host entry, DNS option).

Ports are found by ``external_ids:iface-id=<port_id>`` — the OVS convention every Neutron agent uses — so the
check does not depend on how a device is named; the expected bridge comes from the agent's
``bridge_mappings``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from floatnet.diagnose import probe
from floatnet.diagnose.facts import Facts
from floatnet.diagnose.result import CheckFailed, Result, failed, passed

VETH_PROMISC_HINT = (
    "on a real NIC inside a VM (the seed's VMware note) the hypervisor's port group must allow promiscuous "
    "mode and forged transmits, or upstream frames for the floating IPs' MAC never arrive; a veth (the lab) "
    "needs nothing"
)
NIC_PROMISC_HINT = (
    "if this host is a VM, the hypervisor's virtual switch must allow promiscuous mode (VMware KB 1004099, "
    "the seed's note): the router's MAC differs from the NIC's, and without it upstream cannot reach the "
    "floating IPs"
)


def _ovs(f: Facts, *args: str) -> str:
    return probe.shown(probe.ovs_argv(f.ovsdb, *args)).replace(" --timeout=5", "")


def _expected(f: Facts, network: dict[str, Any]) -> tuple[str, int | None]:
    """The bridge and VLAN tag a port of ``network`` must have (CheckFailed if no bridge is mapped)."""
    physnet = network.get("provider:physical_network")
    bridge = f.bridge_mappings.get(str(physnet))
    if bridge is None:
        raise CheckFailed(
            f"no bridge is mapped for physical network {physnet!r} (bridge_mappings {f.bridge_mappings})",
            f"add `{physnet}:br-…` to [ovs] bridge_mappings of the agent and restart it",
            "openstack network agent show <ovs agent id>  (configurations.bridge_mappings)",
        )
    vlan = network.get("provider:segmentation_id") if network.get("provider:network_type") == "vlan" else None
    return bridge, vlan


def _port_check(f: Facts, port_id: str, network: dict[str, Any], what: str) -> Result:
    """The OVS port of ``port_id`` is on the network's bridge with its tag and its link up."""
    bridge, vlan = _expected(f, network)
    shown = _ovs(f, "--columns=name,external_ids,link_state", "find", "Interface", f"external_ids:iface-id={port_id}")
    found = f.ovs.by_iface_id(port_id)
    tag_text = f"tag {vlan}" if vlan is not None else "untagged"
    if not found:
        return failed(
            f"{what} port {port_id} is not plugged into OVS (no interface with iface-id={port_id})",
            f"plug it into {bridge} with external_ids:iface-id={port_id}, {tag_text} (the agent does this "
            "for router ports; instance ports come from the hypervisor or `floatnet lab`)",
            shown,
        )
    ovs_port = found[0]
    if ovs_port.bridge != bridge:
        return failed(
            f"{what} port {ovs_port.name} is on bridge {ovs_port.bridge}, not {bridge}",
            f"`{_ovs(f, 'del-port', ovs_port.bridge, ovs_port.name)}` and plug it into {bridge}",
            shown,
        )
    if ovs_port.tag != vlan:
        want = str(vlan) if vlan is not None else "[]"
        return failed(
            f"{what} port {ovs_port.name} has VLAN tag {ovs_port.tag}, network wants {tag_text}",
            f"`{_ovs(f, 'set', 'Port', ovs_port.name, f'tag={want}')}`",
            _ovs(f, "get", "Port", ovs_port.name, "tag"),
        )
    return _attachment(f, ovs_port, what, shown) or passed(
        f"{what} port {ovs_port.name} on {bridge}, {tag_text}, link {ovs_port.link_state}", shown
    )


def _attachment(f: Facts, port: probe.OvsPort, what: str, shown: str) -> Result | None:
    """A failure when OVS does not really hold the port's device: an open error, link down, or (for a system
    port) a device that is not promiscuous — OVS sets promiscuous mode on every device it attaches, so a
    device recreated under an existing OVS port (same name, new ifindex) shows up this way and never
    forwards a frame until the port is re-added.
    """
    readd = f"`{_ovs(f, 'del-port', port.name)}` then plug it again (the agent does it for router ports)"
    if port.error or port.ofport == -1:
        return failed(f"OVS cannot use {what} port {port.name}: {port.error or 'ofport -1'}", readd, shown)
    if port.link_state not in (None, "up"):
        return failed(f"{what} port {port.name} link is {port.link_state}",
                      "bring both ends of the device up (`ip link set … up`)", shown)  # fmt: skip
    device = probe.links(f.local.ovs_netns).get(port.name) if port.iface_type in ("", "system") else None
    if device is not None and not probe.is_promisc(device):
        where = f"-n {f.local.ovs_netns} " if f.local.ovs_netns else ""
        return failed(
            f"OVS is not attached to device {port.name} (not promiscuous): it was recreated under an "
            "existing OVS port, and frames to it are lost",
            readd,
            f"ip {where}-d link show {port.name}",
        )
    return None


def gateway_port(f: Facts) -> Result:
    """The router's ``qg-`` OVS port is on the external network's bridge."""
    assert f.gateway_port is not None and f.external_network is not None
    return _port_check(f, f.gateway_port["id"], f.external_network, "router gateway")


def interface_port(f: Facts) -> Result:
    """The router's ``qr-`` OVS port is on the private network's bridge with its VLAN tag."""
    assert f.interface_port is not None and f.network is not None
    return _port_check(f, f.interface_port["id"], f.network, "router interface")


def instance_port(f: Facts) -> Result:
    """The instance's port is plugged into the private network's bridge with its VLAN tag."""
    assert f.port is not None and f.network is not None
    return _port_check(f, f.port["id"], f.network, "instance")


def _uplink(f: Facts, network: dict[str, Any], required: bool) -> Result:
    """The physnet bridge's uplink exists, is up and promiscuous (or a veth, with the seed's VMware hint)."""
    bridge, _ = _expected(f, network)
    physnet = str(network.get("provider:physical_network"))
    named = f.physical_interfaces.get(physnet)
    candidates = [p for p in f.ovs.on_bridge(bridge) if not p.iface_id and p.iface_type in ("", "system")]
    names = [named] if named else [p.name for p in candidates]
    shown = f"{_ovs(f, 'list-ports', bridge)}; ip -d link show <uplink>"
    if not names:
        if not required:
            return passed(f"{bridge} has no uplink: instances of physnet {physnet} reach only this host", shown)
        return failed(
            f"bridge {bridge} (physnet {physnet}) has no uplink interface: nothing connects it upstream",
            f"`{_ovs(f, '--may-exist', 'add-port', bridge, 'UPLINK_IF')}` and set [ovs] physical_interfaces "
            f"= {physnet}:UPLINK_IF",
            shown,
        )
    if named and named not in {p.name for p in f.ovs.on_bridge(bridge)}:
        return failed(
            f"uplink {named} (physical_interfaces) is not a port of {bridge}",
            f"`{_ovs(f, '--may-exist', 'add-port', bridge, named)}`",
            shown,
        )
    where = f"-n {f.local.ovs_netns} " if f.local.ovs_netns else ""
    return _uplink_link(f, names[0], bridge, f"ip {where}-d link show {names[0]}")


def _uplink_link(f: Facts, name: str, bridge: str, shown: str) -> Result:
    link = probe.links(f.local.ovs_netns).get(name)
    if link is None:
        return failed(
            f"uplink {name} of {bridge} does not exist in the host namespace",
            f"create or rename the interface, or remove the stale port from {bridge}",
            shown,
        )
    if not probe.is_up(link):
        return failed(
            f"uplink {name} of {bridge} is down (flags {','.join(link.get('flags', []))})",
            f"`ip link set {name} up` and check its cable/peer",
            shown,
        )
    veth = probe.link_kind(link) == "veth"
    if not probe.is_promisc(link):
        if veth:
            return passed(
                f"uplink {name} of {bridge} is up (veth, not promiscuous: not needed)",
                shown,
                hint=VETH_PROMISC_HINT,
            )
        return failed(
            f"uplink {name} of {bridge} is not promiscuous: frames for the router's MACs are dropped",
            f"`ip link set {name} promisc on`",
            shown,
            hint=NIC_PROMISC_HINT,
        )
    return passed(
        f"uplink {name} of {bridge} is up and promiscuous",
        shown,
        hint=VETH_PROMISC_HINT if veth else NIC_PROMISC_HINT,
    )


def external_uplink(f: Facts) -> Result:
    """The external network's bridge has a working uplink (the floating IPs' way to the outside)."""
    assert f.external_network is not None
    return _uplink(f, f.external_network, required=True)


def internal_uplink(f: Facts) -> Result:
    """The private network's bridge uplink, if it has one (a single node needs none)."""
    assert f.network is not None
    physnet = str(f.network.get("provider:physical_network"))
    return _uplink(f, f.network, required=physnet in f.physical_interfaces)


# ---- DHCP ----


def _dhcp_enabled(f: Facts) -> bool:
    assert f.subnet is not None
    return bool(f.subnet.get("enable_dhcp"))


def dhcp_namespace(f: Facts) -> Result:
    """``qdhcp-<network_id>`` exists when the subnet has DHCP."""
    if not _dhcp_enabled(f):
        return passed("DHCP is disabled on the subnet: the instance is configured statically")
    if f.dhcp_ns not in probe.netns_names():
        return failed(
            f"namespace {f.dhcp_ns} does not exist: the instance gets no address",
            "the agent starts the network's DHCP server: restart `floatnet agent` and read its log",
            "ip netns list",
        )
    return passed(f"{f.dhcp_ns} present", "ip netns list")


def _dnsmasq(f: Facts) -> probe.Process:
    found = probe.processes_in_netns(f.dhcp_ns, "dnsmasq")
    if not found:
        raise CheckFailed(
            f"no dnsmasq runs in {f.dhcp_ns}",
            "restart `floatnet agent` (it restarts dnsmasq)",
            f"ip netns pids {f.dhcp_ns} | xargs -r ps -o pid,args -p",
        )
    return found[0]


def dnsmasq(f: Facts) -> Result:
    """A dnsmasq process runs in the DHCP namespace."""
    if not _dhcp_enabled(f):
        return passed("DHCP is disabled on the subnet")
    proc = _dnsmasq(f)
    return passed(f"dnsmasq pid {proc.pid} in {f.dhcp_ns}", f"ps -o args -p {proc.pid}")


def _file_of(proc: probe.Process, option: str) -> tuple[str, list[str]]:
    path = proc.option(option)
    if not path:
        raise CheckFailed(
            f"dnsmasq pid {proc.pid} has no --{option}",
            "restart `floatnet agent`",
            f"ps -o args -p {proc.pid}",
        )
    try:
        return path, Path(path).read_text().splitlines()
    except OSError as exc:
        raise CheckFailed(f"cannot read {path}: {exc.strerror}", "restart `floatnet agent`", f"ls -l {path}") from exc


def dhcp_host(f: Facts) -> Result:
    """dnsmasq has a host entry for the port's MAC and fixed IP (a MAC without one gets no lease)."""
    if not _dhcp_enabled(f):
        return passed("DHCP is disabled on the subnet")
    assert f.port is not None
    mac = str(f.port["mac_address"]).lower()
    proc = _dnsmasq(f)
    path, lines = _file_of(proc, "dhcp-hostsfile")
    fields = [[item.strip().lower() for item in line.split(",")] for line in lines]
    if not any(mac in items and f.fixed_ip in items for items in fields):
        return failed(
            f"{path} has no entry {mac},{f.fixed_ip}: the instance gets no lease",
            "the agent writes it from the port: restart `floatnet agent`",
            f"cat {path}",
        )
    return passed(f"host entry {mac} -> {f.fixed_ip}", f"cat {path}", hint=_lease_hint(f, proc))


def _offered_dns(lines: list[str]) -> list[str]:
    """The addresses of the opts file's DNS option (``option:dns-server`` or option 6), in order."""
    for line in lines:
        items = [item.strip() for item in line.split(",")]
        for index, item in enumerate(items):
            if item in ("option:dns-server", "6"):
                return [addr for addr in items[index + 1 :] if addr]
    return []


def dhcp_dns(f: Facts) -> Result:
    """Instances get a DNS server: the subnet's ``dns_nameservers`` as option 6, else a resolver dnsmasq
    offers (itself, forwarding upstream) — the seed's manual resolv.conf edit should never be needed.
    """
    if not _dhcp_enabled(f):
        return passed("DHCP is disabled on the subnet")
    assert f.subnet is not None
    proc = _dnsmasq(f)
    path, lines = _file_of(proc, "dhcp-optsfile")
    offered = _offered_dns(lines)
    wanted = list(f.subnet.get("dns_nameservers") or [])
    if wanted and offered != wanted:
        return failed(f"DHCP offers DNS {offered or 'none'}, the subnet's dns_nameservers are {wanted}",
                      "restart `floatnet agent` (it rewrites the options file)", f"cat {path}")  # fmt: skip
    if offered:
        return passed(f"DHCP offers DNS server(s) {', '.join(offered)}", f"cat {path}")
    if proc.option("port") == "0":
        return failed(
            "no DNS option and dnsmasq's own DNS is off (--port=0): instances get no resolver",
            f"`floatnet subnet-update {f.subnet['id']} --dns-nameserver ADDRESS`",
            f"ps -o args -p {proc.pid}",
        )
    return passed("dnsmasq offers itself as the instances' resolver (forwarding upstream)", f"cat {path}")


def _lease_hint(f: Facts, proc: probe.Process) -> str:
    """A hint when the instance holds no lease yet (it may use a static address: not a failure)."""
    assert f.port is not None
    path = proc.option("dhcp-leasefile")
    if not path:
        return ""
    try:
        leases = Path(path).read_text().lower()
    except OSError:
        return ""
    if str(f.port["mac_address"]).lower() in leases:
        return ""
    return f"no lease for {f.port['mac_address']} in {path} yet: the instance has not asked (static address?)"
