"""The router namespace's hops: namespace, ``qg-``/``qr-`` devices and addresses, the floating IP's /32, the
NAT maps, the default route, the upstream gateway's ARP entry and stale conntrack entries.

Everything is observed with ``ip -j``, ``nft -j`` and ``conntrack`` (see :mod:`floatnet.diagnose.probe`); the
``see:`` commands are the ones an operator would type after ``ip netns exec qrouter-<id>``.
"""

from __future__ import annotations

import os

from floatnet.diagnose import probe
from floatnet.diagnose.facts import Facts
from floatnet.diagnose.result import Result, failed, passed

RESYNC = "restart `floatnet agent` (a full resync re-applies the router)"


def privileges(f: Facts) -> Result:
    """The kernel checks enter namespaces and read OVS: they need root (the API checks above did not)."""
    if os.geteuid() != 0:
        return failed(
            "not running as root: the namespaces, nftables, conntrack and OVS of this node cannot be read",
            "run it as root on the node hosting the router: `sudo floatnet diagnose …`",
            "id -u",
        )
    return passed("running as root on this node: kernel checks follow")


def forwarding(f: Facts) -> Result:
    """IPv4 forwarding is on inside the router namespace (off, it answers for itself but routes nothing)."""
    value = probe.ns_sysctl(f.router_ns, "net/ipv4/ip_forward")
    shown = f"ip netns exec {f.router_ns} sysctl net.ipv4.ip_forward"
    if value != "1":
        return failed(
            f"net.ipv4.ip_forward is {value} in {f.router_ns}: nothing is routed between qg- and qr-",
            f"`ip netns exec {f.router_ns} sysctl -w net.ipv4.ip_forward=1` or {RESYNC}",
            shown,
        )
    return passed(f"forwarding on in {f.router_ns}", shown)


def namespace(f: Facts) -> Result:
    """``qrouter-<router_id>`` exists on this node."""
    if f.router_ns not in probe.netns_names():
        return failed(
            f"namespace {f.router_ns} does not exist on this node",
            f"the L3 agent creates it: check that `floatnet agent` runs here and read its log; {RESYNC} "
            "(if another node hosts the router, run diagnose there)",
            "ip netns list",
        )
    return passed(f"{f.router_ns} present", "ip netns list")


def _device(f: Facts, dev: str, cidr: str) -> Result | None:
    """A failure if ``dev`` is missing, down or lacks ``cidr`` in the router namespace, else None."""
    shown = f"ip -n {f.router_ns} addr show dev {dev}"
    link = f.router_links.get(dev)
    if link is None:
        return failed(f"{dev} is missing in {f.router_ns}", RESYNC, f"ip -n {f.router_ns} link show")
    if not probe.is_up(link):
        return failed(
            f"{dev} is not up (flags {','.join(link.get('flags', []))})",
            f"`ip -n {f.router_ns} link set {dev} up`; if it has no carrier its OVS end is unplugged",
            shown,
        )
    if cidr not in probe.ipv4_cidrs(link):
        return failed(
            f"{dev} lacks {cidr} (has {sorted(probe.ipv4_cidrs(link)) or 'none'})",
            f"`ip -n {f.router_ns} addr add {cidr} dev {dev}` or {RESYNC}",
            shown,
        )
    return None


def gateway_device(f: Facts) -> Result:
    """``qg-<port>`` is up with the router's gateway address."""
    return _device(f, f.qg_dev, f.gateway_cidr) or passed(
        f"{f.qg_dev} up with {f.gateway_cidr}", f"ip -n {f.router_ns} addr show dev {f.qg_dev}"
    )


def fip_address(f: Facts) -> Result:
    """The floating IP is a /32 on ``qg-`` (without it the router never answers ARP for it upstream)."""
    cidr = f"{f.fip_address}/32"
    shown = f"ip -n {f.router_ns} addr show dev {f.qg_dev}"
    if cidr not in probe.ipv4_cidrs(f.router_links[f.qg_dev]):
        return failed(
            f"{cidr} is not on {f.qg_dev}: upstream ARP for the floating IP gets no answer",
            f"`ip -n {f.router_ns} addr add {cidr} dev {f.qg_dev}` (then gratuitous ARP) or {RESYNC}",
            shown,
        )
    return passed(f"{cidr} on {f.qg_dev}", shown)


def interface_device(f: Facts) -> Result:
    """``qr-<port>`` is up with the subnet's gateway address."""
    return _device(f, f.qr_dev, f.interface_cidr) or passed(
        f"{f.qr_dev} up with {f.interface_cidr}", f"ip -n {f.router_ns} addr show dev {f.qr_dev}"
    )


def _nft_list(f: Facts) -> str:
    return f"ip netns exec {f.router_ns} nft list table ip {probe.NAT_TABLE}"


def nat_table(f: Facts) -> Result:
    """The router's ``table ip floatnet`` exists with its ``fip_dnat``/``fip_snat`` maps."""
    if f.nat is None:
        return failed(
            f"no nftables table ip {probe.NAT_TABLE} in {f.router_ns}",
            RESYNC,
            f"ip netns exec {f.router_ns} nft list tables",
        )
    missing = [name for name in ("fip_dnat", "fip_snat") if name not in f.nat.maps]
    if missing:
        return failed(f"table ip {probe.NAT_TABLE} lacks map(s) {', '.join(missing)}", RESYNC, _nft_list(f))
    dnat_count, snat_count = len(f.nat.maps["fip_dnat"]), len(f.nat.maps["fip_snat"])
    return passed(f"table ip {probe.NAT_TABLE}: {dnat_count} DNAT and {snat_count} SNAT entries", _nft_list(f))


def nat_rules(f: Facts) -> Result:
    """The table's hooks use the maps: ``dnat … @fip_dnat`` at prerouting, ``snat … @fip_snat`` at postrouting
    (elements in a map nobody looks up translate nothing).
    """
    assert f.nat is not None
    missing = [
        f"{hook}: {verb} to ip {field} map @{name}"
        for hook, verb, field, name in (
            ("prerouting", "dnat", "daddr", "fip_dnat"),
            ("postrouting", "snat", "saddr", "fip_snat"),
        )
        if not f.nat.hook_has(hook, f'"{verb}"', f'"@{name}"')
    ]
    if missing:
        return failed(f"no rule uses the map ({'; '.join(missing)})", RESYNC, _nft_list(f))
    return passed("prerouting DNATs through @fip_dnat, postrouting SNATs through @fip_snat", _nft_list(f))


def _map_entry(f: Facts, name: str, key: str, want: str) -> Result:
    """``key : want`` is an element of map ``name`` (missing, or pointing elsewhere, fails with the fix)."""
    assert f.nat is not None
    have = f.nat.maps.get(name, {}).get(key)
    shown = f"ip netns exec {f.router_ns} nft list map ip {probe.NAT_TABLE} {name}"
    add = f"ip netns exec {f.router_ns} nft add element ip {probe.NAT_TABLE} {name} '{{ {key} : {want} }}'"
    if have is None:
        return failed(f"{name} has no element for {key} (want {key} : {want})", f"`{add}` or {RESYNC}", shown)
    if have != want:
        delete = f"ip netns exec {f.router_ns} nft delete element ip {probe.NAT_TABLE} {name} '{{ {key} }}'"
        return failed(
            f"{name} maps {key} to {have}, not {want} (stale association)",
            f"`{delete}` then `{add}`, or {RESYNC}",
            shown,
        )
    return passed(f"{name}: {key} -> {want}", shown)


def dnat(f: Facts) -> Result:
    """``fip_dnat`` maps the floating IP to the fixed IP (inbound); for a forwarding, ``pf_addr``/``pf_port``
    map the floating IP's protocol and port to the instance's address and port."""
    pf = f.forwarding
    if pf is None:
        return _map_entry(f, "fip_dnat", f.fip_address, f.fixed_ip)
    key = f"{f.fip_address} . {pf.protocol} . {pf.external_port}"
    address = _map_entry(f, "pf_addr", key, pf.internal_ip)
    return address if not address.ok else _map_entry(f, "pf_port", key, str(pf.internal_port))


def snat(f: Facts) -> Result:
    """``fip_snat`` maps the fixed IP to the floating IP (outbound); a forwarding's replies need none (its
    connection's own DNAT is undone by conntrack)."""
    if f.forwarding is not None:
        return passed("forwarded traffic: replies are translated back by its conntrack entry, no fip_snat needed")
    return _map_entry(f, "fip_snat", f.fixed_ip, f.fip_address)


def default_route(f: Facts) -> Result:
    """The namespace's default route goes via the external subnet's gateway out of ``qg-``."""
    assert f.external_subnet is not None
    gateway = f.external_subnet["gateway_ip"]
    shown = f"ip -n {f.router_ns} route show default"
    found = probe.routes(f.router_ns, "default")
    if any(r.get("gateway") == gateway and r.get("dev") == f.qg_dev for r in found):
        return passed(f"default via {gateway} dev {f.qg_dev}", shown)
    have = "; ".join(f"via {r.get('gateway')} dev {r.get('dev')}" for r in found) or "none"
    return failed(
        f"no default route via {gateway} dev {f.qg_dev} (have: {have})",
        f"`ip -n {f.router_ns} route replace default via {gateway} dev {f.qg_dev}` or {RESYNC}",
        shown,
    )


GOOD_NEIGH = {"REACHABLE", "STALE", "DELAY", "PROBE", "PERMANENT", "NOARP"}


def upstream_arp(f: Facts) -> Result:
    """The upstream gateway answers ARP from the namespace: one bounded ping (an arping if the ping got no
    answer, since ICMP may be filtered), then the neighbour entry as evidence. A STALE entry alone proves
    nothing: it survives the gateway going away.
    """
    assert f.external_subnet is not None
    gateway = f.external_subnet["gateway_ip"]
    shown = f"ip netns exec {f.router_ns} ping -c1 -W1 {gateway}; ip -n {f.router_ns} neigh show {gateway}"
    answered = probe.ping_once(f.router_ns, gateway)
    arp_reply = answered or probe.arping_once(f.router_ns, f.qg_dev, gateway)
    entry = probe.neighbour(f.router_ns, gateway, f.qg_dev)
    states = set(entry.get("state", [])) if entry else set()
    if arp_reply and entry and entry.get("lladdr") and states & GOOD_NEIGH:
        echo = "answers ping" if answered else "answers ARP but not ping (ICMP may be filtered)"
        return passed(f"upstream gateway {gateway} is {entry['lladdr']} ({'/'.join(sorted(states))}), {echo}", shown)
    return failed(
        f"upstream gateway {gateway} does not answer ARP on {f.qg_dev} (neighbour state "
        f"{'/'.join(sorted(states)) or 'none'})",
        f"the upstream router {gateway} must be on the external segment: check its address and the cabling "
        "of the "
        "physnet bridge's uplink; on a VM host, allow promiscuous mode on the hypervisor's port group",
        shown,
    )


def conntrack(f: Facts) -> Result:
    """No conntrack entry for the floating IP points at an address other than the current fixed IP."""
    shown = f"ip netns exec {f.router_ns} conntrack -L -d {f.fip_address}; … conntrack -L -q {f.fip_address}"
    inbound = [fl for fl in probe.conntrack_flows(f.router_ns, "-d", f.fip_address) if fl.reply_src != f.fixed_ip]
    outbound = [fl for fl in probe.conntrack_flows(f.router_ns, "-q", f.fip_address) if fl.src != f.fixed_ip]
    stale = inbound + outbound
    if stale:
        sample = stale[0]
        return failed(
            f"{len(stale)} conntrack entr{'y' if len(stale) == 1 else 'ies'} for {f.fip_address} not via "
            f"{f.fixed_ip} (e.g. {sample.proto} {sample.src}->{sample.dst} answered by {sample.reply_src}): "
            "those "
            "sessions still follow an old association",
            f"`ip netns exec {f.router_ns} conntrack -D -d {f.fip_address}; "
            f"ip netns exec {f.router_ns} conntrack -D -q {f.fip_address}`",
            shown,
        )
    return passed(f"no stale conntrack entries for {f.fip_address}", shown)
