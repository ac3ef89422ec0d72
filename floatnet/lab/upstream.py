"""The outside world: one "upstream" namespace wired into every physnet bridge.

Inside it: the upstream router's 203.0.113.1/24 and 2001:db8:ff::1/64 on the external (flat) physnet's link;
198.51.100.1/24 plus 198.51.100.53 (dnsmasq serving the test zone ``example.test``) and 198.51.100.80 and
2001:db8:100::80 (TCP echo on 7, whoami on 80) on its loopback, so a packet from a router's gateway reaches them
through 203.0.113.1 / 2001:db8:ff::1 like through an ISP. IPv6 is routed, not NATed: the way back to a tenant
subnet is a route via the router's gateway address, added as an ISP's routing would
(``floatnet lab exec upstream ip -6 route replace <subnet> via <gateway address>``). The
other physnets' links carry no address: they are trunks to capture tagged frames on (this kernel has no
8021q). In a multi-node lab the links end on the lab switch (:mod:`floatnet.lab.switch`) instead of the agent's
OVS: ``state.switch_ns`` is set before :func:`up` runs.
"""

from __future__ import annotations

from floatnet.lab import hypervisor, procs, switch
from floatnet.lab import state as lab_state
from floatnet.lab.context import LabContext, datapath_for
from floatnet.lab.names import (
    DNS_SERVER,
    ECHO_PORT,
    INTERNET6_CIDRS,
    INTERNET_CIDRS,
    TEST_ZONE,
    UPSTREAM_GATEWAY6_CIDR,
    UPSTREAM_GATEWAY_CIDR,
    WEB_SERVER,
    WEB_SERVER6,
    WHOAMI_PORT,
    ZONE_RECORDS,
)
from floatnet.lab.state import LabState, Link
from floatnet.linux import links, netns


def tx_offload_off(device: str, ns: str | None) -> None:
    """TCP through the OVS userspace datapath stalls unless veths skip TX checksum offload."""
    argv = ["ethtool", "-K", device, "tx", "off"]
    procs.run(procs.in_ns(ns, argv) if ns else argv)


def _build_link(ctx: LabContext, state: LabState, index: int, physnet: str, bridge: str) -> None:
    """The upstream's link on physnet ``index``: into the agent's OVS bridge, or in a multi-node lab into the
    lab switch's bridge of that physnet (:mod:`floatnet.lab.switch`), where every node's NIC ends too."""
    root, peer = ctx.names.physnet_root_dev(index), ctx.names.physnet_peer_dev(index)
    ns = ctx.names.upstream_ns
    where = state.switch_ns or ctx.ovs_netns
    if not state.switch_ns:
        hypervisor.ensure_bridge(ctx.ovsdb, bridge, datapath_for(ctx.config))
    links.ensure_veth(root, peer, ns, peer_name=peer, netns=where)
    address = UPSTREAM_GATEWAY_CIDR if physnet == ctx.external_physnet else None
    state.links.append(Link(physnet=physnet, bridge=bridge, root=root, peer=peer, address=address))
    lab_state.save(ctx.state_dir, state)
    tx_offload_off(root, where)
    tx_offload_off(peer, ns)
    if address:
        links.add_address(ns, peer, address)
        links.add_address(ns, peer, UPSTREAM_GATEWAY6_CIDR)
    if state.switch_ns:
        switch.attach(state.switch_ns, root, switch.physnet_bridge(index))
    else:
        hypervisor.plug_physical(ctx.ovsdb, bridge, root, ctx.names.prefix)


def _start_dns(ctx: LabContext, state: LabState) -> None:
    records = [f"--host-record={name},{ip}" for name, ip in ZONE_RECORDS.items()]
    argv = [
        "dnsmasq", "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
        "--bind-interfaces", f"--listen-address={DNS_SERVER}", "--port=53", "--no-dhcp-interface=*",
        f"--local=/{TEST_ZONE}/", "--log-queries", "--log-facility=-", f"--pid-file={ctx.files / 'dns.pid'}",
        *records,
    ]  # fmt: skip
    state.procs["dns"] = procs.spawn(
        procs.in_ns(ctx.names.upstream_ns, argv), ctx.log_file("upstream-dns"), str(ctx.files / "dns.pid")
    )


def _start_servers(ctx: LabContext, state: LabState) -> None:
    argv = [
        ctx.python, "-m", "floatnet.lab.probe", "serve",
        "--echo", f"{WEB_SERVER}:{ECHO_PORT}", "--whoami", f"{WEB_SERVER}:{WHOAMI_PORT}",
        "--echo", f"{WEB_SERVER6}:{ECHO_PORT}", "--whoami", f"{WEB_SERVER6}:{WHOAMI_PORT}",
        "--label", ctx.names.upstream_ns,
    ]  # fmt: skip
    state.procs["servers"] = procs.spawn(
        procs.in_ns(ctx.names.upstream_ns, argv), ctx.log_file("upstream-servers"), ctx.names.upstream_ns
    )


def up(ctx: LabContext) -> LabState:
    """Build the upstream namespace, its physnet links and services; idempotent (again: adds nothing)."""
    state = lab_state.load(ctx.state_dir, ctx.names.prefix)
    ctx.files.mkdir(parents=True, exist_ok=True)
    ns = ctx.names.upstream_ns
    state.upstream_ns, state.ovsdb, state.ovs_netns = ns, ctx.ovsdb, ctx.ovs_netns
    lab_state.save(ctx.state_dir, state)
    netns.ensure(ns)
    for cidr in INTERNET_CIDRS + INTERNET6_CIDRS:
        links.add_address(ns, "lo", cidr)
    built = {link.physnet for link in state.links}
    for index, (physnet, bridge) in enumerate(ctx.config.bridge_mappings.items()):
        if physnet not in built:
            _build_link(ctx, state, index, physnet, bridge)
    if "dns" not in state.procs or not procs.alive(state.procs["dns"]):
        _start_dns(ctx, state)
    if "servers" not in state.procs or not procs.alive(state.procs["servers"]):
        _start_servers(ctx, state)
    lab_state.save(ctx.state_dir, state)
    return state


def down(ctx: LabContext, state: LabState) -> list[str]:
    """Stop the upstream services, remove its links and namespace, and a multi-node lab's switch (instances
    and nodes are the caller's); every step is tried, the failures are returned as messages."""
    errors: list[str] = []
    for name in list(state.procs):
        procs.best_effort(errors, f"stop {name}", procs.stop, state.procs.pop(name))
    for link in list(state.links):
        if not state.switch_ns:
            procs.best_effort(errors, f"unplug {link.root}", hypervisor.unplug, state.ovsdb, link.root)
        where = state.switch_ns or state.ovs_netns
        procs.best_effort(errors, f"delete {link.root}", links.delete_link, link.root, where)
        state.links.remove(link)
    for ns in (state.upstream_ns, state.switch_ns):
        if ns:
            procs.best_effort(errors, f"delete namespace {ns}", netns.delete, ns)
    state.upstream_ns = state.switch_ns = None
    lab_state.save(ctx.state_dir, state)
    return errors
