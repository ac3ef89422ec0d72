"""Veth pairs, addresses, routes and forwarding, through pyroute2 netlink.

Every operation runs in a thread inside the target namespace (:func:`floatnet.linux.netns.run_in`), opening
its own ``IPRoute`` there: cheap (~4 ms), never forks, and safe to call from an asyncio program.
``netns=None`` means the namespace the agent runs in (root), where floatnet only ever creates or deletes its
own devices: it never changes the root namespace's addresses, routes or sysctls.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from floatnet.linux import netns as _netns
from floatnet.linux import rtaddr, rtdump
from floatnet.linux.errors import KernelError
from floatnet.linux.names import IFNAME_MAX

T = TypeVar("T")
IFA_F_NODAD = 0x02  # an address usable at once: floatnet's addresses are the server's, unique by allocation
RTPROT_STATIC = 4  # routes floatnet adds; sync_routes only ever removes these (the agent observes only these)


@dataclass(frozen=True)
class Link:
    """One network device as seen by netlink."""

    name: str
    index: int
    mac: str | None
    mtu: int
    up: bool
    kind: str | None
    peer_index: int | None = None
    carrier: bool = False  # IFF_LOWER_UP: a veth has it only while both of its ends are up


@dataclass(frozen=True)
class Changed:
    """What a ``sync_*`` call changed; falsy when nothing did."""

    added: frozenset[str] = field(default_factory=frozenset)
    removed: frozenset[str] = field(default_factory=frozenset)

    def __bool__(self) -> bool:
        return bool(self.added or self.removed)


def _ipr_call(netns: str | None, op: str, obj: str, fn: Callable[[IPRoute], T]) -> T:
    """Run ``fn(ipr)`` with an IPRoute opened inside ``netns``; netlink errors become KernelError(op, obj)."""
    if netns is not None and not _netns.exists(netns):
        raise KernelError(op, obj, f"namespace {netns} does not exist")

    def body() -> T:
        with IPRoute() as ipr:
            return fn(ipr)

    try:
        return _netns.run_in(netns, body)
    except NetlinkError as exc:
        raise KernelError(op, f"{obj} (netns {netns or 'root'})", exc.code) from exc


def _check_name(name: str) -> None:
    if not name or len(name) > IFNAME_MAX or "/" in name or " " in name:
        raise KernelError("link name", repr(name), f"must be 1..{IFNAME_MAX} characters without / or spaces")


def _index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


IFF_LOWER_UP = 0x10000


def _to_link(msg: Any) -> Link:
    info = msg.get("IFLA_LINKINFO")
    kind = info.get("IFLA_INFO_KIND") if info else None
    return Link(
        name=msg.get("IFLA_IFNAME"),
        index=msg["index"],
        mac=msg.get("IFLA_ADDRESS"),
        mtu=msg.get("IFLA_MTU"),
        up=bool(msg["flags"] & 1),
        kind=kind,
        peer_index=msg.get("IFLA_LINK"),
        carrier=bool(msg["flags"] & IFF_LOWER_UP),
    )


def list_links(netns: str | None) -> list[Link]:
    """All devices of a namespace."""
    return _ipr_call(netns, "list links", "*", lambda ipr: [_to_link(m) for m in ipr.get_links()])


def get_link(netns: str | None, name: str) -> Link | None:
    """One device by name, or None."""

    def body(ipr: IPRoute) -> Link | None:
        idx = _index(ipr, name)
        return _to_link(ipr.get_links(idx)[0]) if idx is not None else None

    return _ipr_call(netns, "get link", name, body)


def set_up(netns: str | None, name: str, mac: str | None = None, mtu: int | None = None) -> None:
    """Bring a device up, setting its MAC and MTU when given (only if they differ)."""

    def body(ipr: IPRoute) -> None:
        idx = _index(ipr, name)
        if idx is None:
            raise NetlinkError(19, f"no device {name}")
        cur = _to_link(ipr.get_links(idx)[0])
        attrs: dict[str, Any] = {}
        if mac and (cur.mac or "").lower() != mac.lower():
            attrs["address"] = mac.lower()
        if mtu and cur.mtu != mtu:
            attrs["mtu"] = mtu
        if attrs or not cur.up:
            ipr.link("set", index=idx, state="up", **attrs)

    _ipr_call(netns, "set link up", name, body)


def ensure_veth(
    name: str,
    peer: str,
    peer_netns: str,
    mac: str | None = None,
    mtu: int | None = None,
    peer_name: str | None = None,
    netns: str | None = None,
) -> bool:
    """Ensure a veth pair: ``name`` in namespace ``netns`` (None: the current one; where OVS runs) and its
    peer inside ``peer_netns``.

    The peer is called ``peer_name`` in the namespace (default ``peer``); it is created directly there, so
    ``peer`` never appears in the current namespace. ``mac`` is the peer's MAC (the port's), ``mtu`` applies
    to both ends. Both ends end up. A half-present pair (one end missing or linked elsewhere) is deleted and
    re-created. Returns True if the pair was (re)created.
    """
    inner = peer_name or peer
    _check_name(name)
    _check_name(inner)
    if not _netns.exists(peer_netns):
        raise KernelError("create veth", name, f"namespace {peer_netns} does not exist")
    outer_link = get_link(netns, name)
    inner_link = get_link(peer_netns, inner)
    paired = (
        outer_link is not None
        and inner_link is not None
        and outer_link.kind == inner_link.kind == "veth"
        and outer_link.peer_index == inner_link.index
        and inner_link.peer_index == outer_link.index
    )
    created = False
    if not paired:
        if outer_link is not None:
            delete_link(name, netns)
        if inner_link is not None:
            delete_link(inner, peer_netns)
        _create_veth(netns, name, inner, peer_netns)
        created = True
    set_up(peer_netns, inner, mac=mac, mtu=mtu)
    set_up(netns, name, mtu=mtu)
    return created


def _create_veth(netns: str | None, name: str, inner: str, peer_netns: str) -> None:
    def body(ipr: IPRoute) -> None:
        ipr.link("add", ifname=name, kind="veth", peer={"ifname": inner, "net_ns_fd": peer_netns})

    _ipr_call(netns, "create veth", f"{name}<->{peer_netns}/{inner}", body)


def delete_link(name: str, netns: str | None = None) -> bool:
    """Delete a device if it exists (a veth takes its peer with it); returns True if it did."""

    def body(ipr: IPRoute) -> bool:
        idx = _index(ipr, name)
        if idx is None:
            return False
        ipr.link("del", index=idx)
        return True

    return _ipr_call(netns, "delete link", name, body)


def _norm_iface(cidr: str) -> str:
    try:
        return str(ipaddress.ip_interface(cidr))
    except ValueError as exc:
        raise KernelError("address", repr(cidr), exc) from exc


def get_addresses(netns: str | None, ifname: str, ipv4_link_local: bool = False) -> set[str]:
    """The device's addresses as ``ip/len`` (link-local addresses left out; IPv4 ones kept with
    ``ipv4_link_local``: an HA device's)."""

    def body(ipr: IPRoute) -> set[str]:
        idx = _index(ipr, ifname)
        if idx is None:
            raise NetlinkError(19, f"no device {ifname}")
        return rtdump.interface_addresses(idx, ipv4_link_local)  # raw dump: pyroute2 takes ~1.4 s for 10,000 addresses

    try:
        return _ipr_call(netns, "get addresses", ifname, body)
    except OSError as exc:
        raise KernelError("get addresses", f"{ifname} (netns {netns or 'root'})", exc) from exc


def _addr_op(netns: str | None, ifname: str, cidr: str, op: str) -> bool:
    iface = ipaddress.ip_interface(_norm_iface(cidr))

    def body(ipr: IPRoute) -> bool:
        idx = _index(ipr, ifname)
        if idx is None:
            raise NetlinkError(19, f"no device {ifname}")
        return _addr_in(ipr, idx, str(iface), op)

    return _ipr_call(netns, f"{op} address {iface}", ifname, body)


def add_address(netns: str | None, ifname: str, cidr: str) -> bool:
    """Add ``ip/len`` to a device; True if it was added (False: already there)."""
    return _addr_op(netns, ifname, cidr, "add")


def del_address(netns: str | None, ifname: str, cidr: str) -> bool:
    """Remove ``ip/len`` from a device; True if it was removed (False: was not there)."""
    return _addr_op(netns, ifname, cidr, "del")


BATCH_AT = 64  # address changes beyond which ``ip -batch`` applies them: pyroute2 spends ~0.6 ms per message


def sync_addresses(netns: str | None, ifname: str, wanted: Iterable[str]) -> Changed:
    """Make the device hold exactly ``wanted`` (``ip/len``): add the missing, remove the extra.

    A small diff goes through one netlink socket; a large one (a router's 10,000 floating-IP /32s in a cold
    sync) through one ``ip -batch`` process: 10,000 addresses in ~2 s instead of ~8 s.
    """
    if netns is None:
        raise KernelError("sync addresses", ifname, "refusing to manage addresses in the root namespace")
    want = {_norm_iface(c) for c in wanted}
    have = get_addresses(netns, ifname)
    add, remove = sorted(want - have), sorted(have - want)
    if len(add) + len(remove) > BATCH_AT:
        lines = [f"addr del {c} dev {ifname}" for c in remove] + [f"addr add {c} dev {ifname}{_nodad(c)}" for c in add]
        _ip_batch(netns, lines, f"sync addresses {ifname}")
        return Changed(frozenset(add), frozenset(remove))

    def body(ipr: IPRoute) -> Changed:
        idx = _index(ipr, ifname)
        if idx is None:
            raise NetlinkError(19, f"no device {ifname}")
        added = {c for c in add if _addr_in(ipr, idx, c, "add")}
        removed = {c for c in remove if _addr_in(ipr, idx, c, "del")}
        return Changed(frozenset(added), frozenset(removed))

    return _ipr_call(netns, "sync addresses", ifname, body)


def edit_addresses(netns: str, ifname: str, add: Iterable[str] = (), remove: Iterable[str] = ()) -> Changed:
    """Remove then add a few addresses, leaving the device's others alone (a floating IP's /32): over a
    netlink socket kept per namespace (:mod:`.rtaddr`) — no thread, no dump of the device's thousands of
    addresses. Already gone / already there is not an error."""
    if netns is None:
        raise KernelError("edit addresses", ifname, "refusing to manage addresses in the root namespace")
    adds, removes = {_norm_iface(c) for c in add}, {_norm_iface(c) for c in remove}
    if not adds and not removes:
        return Changed()
    added, removed = rtaddr.edit(netns, ifname, add=adds, remove=removes)
    return Changed(frozenset(added), frozenset(removed))


def edit_routes(netns: str, add: Iterable[tuple[str, str]] = (), remove: Iterable[tuple[str, str]] = ()) -> Changed:
    """Delete the ``remove`` routes, then add (``replace``) the ``add`` ones — ``(dst_cidr, via)``, the default
    route as ``0.0.0.0/0`` — with floatnet's protocol (static), leaving the namespace's others alone. A route
    already gone is not an error. A route whose gateway is not reachable yet raises KernelError (ENETUNREACH):
    add addresses first."""
    if netns is None:
        raise KernelError("edit routes", "main", "refusing to manage routes in the root namespace")
    adds = [(_route_key(d), str(ipaddress.ip_address(v))) for d, v in add]
    removes = [(_route_key(d), str(ipaddress.ip_address(v))) for d, v in remove]

    def body(ipr: IPRoute) -> Changed:
        removed = set()
        for dst, via in removes:
            try:
                ipr.route("del", dst=dst, gateway=via, table=254)
                removed.add(f"{dst} via {via}")
            except NetlinkError as exc:
                if exc.code != 3:  # ESRCH: already gone
                    raise
        for dst, via in adds:
            ipr.route("replace", dst=dst, gateway=via, proto=RTPROT_STATIC, table=254)
        return Changed(frozenset(f"{d} via {v}" for d, v in adds), frozenset(removed))

    return _ipr_call(netns, "edit routes", "main", body)


def _ip_batch(netns: str, commands: list[str], what: str) -> None:
    """Run ``ip`` commands in one process inside ``netns`` (``-force``: all are tried; any failure raises)."""
    if not _netns.exists(netns):
        raise KernelError(what, netns, "namespace does not exist")
    argv = ["ip", "-n", netns, "-force", "-batch", "-"]
    try:
        proc = subprocess.run(argv, input="\n".join(commands) + "\n", capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KernelError(what, netns, exc) from exc
    if proc.returncode != 0:
        raise KernelError(what, netns, proc.stderr.strip()[:500] or f"ip exit {proc.returncode}")


def _addr_in(ipr: IPRoute, idx: int, cidr: str, op: str) -> bool:
    """Add/delete one address with an open IPRoute; False when already there / already gone."""
    iface = ipaddress.ip_interface(cidr)
    flags = {"flags": IFA_F_NODAD} if op == "add" and iface.version == 6 else {}
    try:
        ipr.addr(op, index=idx, address=str(iface.ip), prefixlen=iface.network.prefixlen, **flags)
    except NetlinkError as exc:
        if (op == "add" and exc.code == 17) or (op == "del" and exc.code in (99, 19)):
            return False
        raise
    return True


def _nodad(cidr: str) -> str:
    """``ip addr add``'s flag for an IPv6 address: no duplicate address detection (see ``IFA_F_NODAD``)."""
    return " nodad" if ipaddress.ip_interface(cidr).version == 6 else ""


def _route_key(dst: str) -> str:
    return str(ipaddress.ip_network(dst, strict=False))


def get_routes(netns: str, proto: int | None = RTPROT_STATIC) -> dict[str, str]:
    """Main-table routes with a gateway, IPv4 and IPv6, ``{dst_cidr: via}`` (``0.0.0.0/0`` and ``::/0`` are the
    default routes).

    Only routes of protocol ``proto`` (default: the ones floatnet adds) unless ``proto`` is None.
    """

    if netns is not None and not _netns.exists(netns):
        raise KernelError("list routes", "main", f"namespace {netns} does not exist")
    try:  # a raw dump: pyroute2 decodes every local route of 10,000 floating-IP /32s first (~0.5 s)
        return _netns.run_in(netns, rtdump.gateway_routes, 254, proto)
    except OSError as exc:
        raise KernelError("list routes", f"main (netns {netns})", exc) from exc


def sync_routes(netns: str, default_gw: str | None, routes: Iterable[tuple[str, str]] = ()) -> Changed:
    """Make the namespace's gatewayed routes exactly ``default_gw`` plus ``routes`` (``[(dst_cidr, via)]``).

    Connected routes (the kernel's, from addresses) are left alone; removal touches only routes floatnet
    added. A route whose gateway is not reachable yet raises KernelError (ENETUNREACH) — add addresses first.
    """
    if netns is None:
        raise KernelError("sync routes", "main", "refusing to manage routes in the root namespace")
    want = {_route_key(dst): str(ipaddress.ip_address(via)) for dst, via in routes}
    if default_gw:
        want["0.0.0.0/0"] = str(ipaddress.ip_address(default_gw))
    have = get_routes(netns, proto=None)
    ours = get_routes(netns)

    def body(ipr: IPRoute) -> Changed:
        removed = {d for d in ours if want.get(d) != ours[d]}
        for dst in removed:
            ipr.route("del", dst=dst, gateway=ours[dst], table=254)
        added = {d for d, via in want.items() if have.get(d) != via or d in removed}
        for dst in added:
            ipr.route("replace", dst=dst, gateway=want[dst], proto=RTPROT_STATIC, table=254)
        return Changed(frozenset(f"{d} via {want[d]}" for d in added), frozenset(removed))

    return _ipr_call(netns, "sync routes", "main", body)


def _write_sysctl(key: str, value: str) -> None:
    """Write one sysctl of the calling thread's namespace (``/proc/sys/net`` follows the thread's netns)."""
    with open(f"/proc/sys/{key.replace('.', '/')}", "r+b", buffering=0) as f:
        if f.read().strip() != value.encode():
            f.seek(0)
            f.write(value.encode())


FORWARDING_SYSCTLS = ("net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding")
# A router forwards hairpin traffic out of the interface it came in: an ICMP redirect would then tell the
# instance to send floating-IP traffic straight to the other instance, which drops it. Neutron turns them off
# too.
NO_REDIRECTS = ("net.ipv4.conf.all.send_redirects", "net.ipv4.conf.default.send_redirects")


def set_forwarding(netns: str, on: bool) -> None:
    """Turn IPv4 and IPv6 forwarding on (and ICMP redirects off) or off inside a namespace; never the root one.
    (A forwarding IPv6 device ignores router advertisements: a router's routes are the ones floatnet sets.)"""
    if not netns:
        raise KernelError("set forwarding", "root namespace", "refusing to touch the root namespace's sysctls")
    if not _netns.exists(netns):
        raise KernelError("set forwarding", netns, "namespace does not exist")
    settings = [(k, "1" if on else "0") for k in FORWARDING_SYSCTLS]
    if on:
        settings += [(k, "0") for k in NO_REDIRECTS]

    def body() -> None:
        for key, value in settings:
            _write_sysctl(key, value)

    try:
        _netns.run_in(netns, body)
    except OSError as exc:
        raise KernelError("set forwarding", netns, exc) from exc


# A floatnet namespace's IPv6 addresses and routes are exactly the ones the agent sets: its devices ignore
# router advertisements (a DHCP port must not pick up the router's prefix or default route behind the agent's
# back — the drift check would remove it again and again).
STATIC_IPV6_SYSCTLS = (
    "net.ipv6.conf.all.accept_ra", "net.ipv6.conf.default.accept_ra", "net.ipv6.conf.default.autoconf",
)  # fmt: skip


def static_ipv6(netns: str) -> None:
    """Make devices created in ``netns`` from now on ignore router advertisements (never the root one)."""
    if not netns:
        raise KernelError("static ipv6", "root namespace", "refusing to touch the root namespace's sysctls")

    def body() -> None:
        for key in STATIC_IPV6_SYSCTLS:
            _write_sysctl(key, "0")

    try:
        _netns.run_in(netns, body)
    except OSError as exc:
        raise KernelError("static ipv6", netns, exc) from exc


def no_ipv6(netns: str) -> None:
    """Make devices created in (or moved into) ``netns`` from now on have IPv6 off: no link-local address, no
    DAD, no MLD — they send nothing of their own when they come up (never the root namespace)."""
    if not netns:
        raise KernelError("no ipv6", "root namespace", "refusing to touch the root namespace's sysctls")
    try:
        _netns.run_in(netns, _write_sysctl, "net.ipv6.conf.default.disable_ipv6", "1")
    except OSError as exc:
        raise KernelError("no ipv6", netns, exc) from exc


def get_forwarding(netns: str) -> bool:
    """Whether IPv4 and IPv6 forwarding are both on inside a namespace (one off: not forwarding)."""

    def body() -> bool:
        on = []
        for key in FORWARDING_SYSCTLS:
            with open(f"/proc/sys/{key.replace('.', '/')}", "rb") as f:
                on.append(f.read().strip() == b"1")
        return all(on)

    return _netns.run_in(netns, body)


def tx_offload_off(ifname: str, netns: str | None = None) -> None:
    """Turn TX checksum offload off on a device (veths on an OVS netdev bridge stall TCP without it)."""
    _check_name(ifname)
    argv = _netns.exec_argv(netns, ["ethtool", "-K", ifname, "tx", "off"])
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KernelError("tx offload off", ifname, exc) from exc
    if proc.returncode != 0:
        raise KernelError("tx offload off", ifname, proc.stderr.strip() or f"ethtool exit {proc.returncode}")
