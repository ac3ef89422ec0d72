"""In-memory stand-ins for the agent's two doors: the kernel (:class:`floatnet.agent.kernel.Kernel`) and the
server (the client's interface). They let the real reconcile loop run in unit tests, without root.

:class:`FakeKernel` applies each action to an in-memory :class:`~floatnet.agent.state.Observed` the way the real
handlers change the kernel (the security-group tables as :class:`~floatnet.agent.state.Security` without the agent's
``applied`` memory, which no kernel holds); ``fail`` makes the actions of a group raise (a temporary kernel failure)
and ``tamper`` edits the state behind the agent's back (drift). :class:`FakeServer` answers ``state`` (with the
router/network/floating-IP filters of the real server) from documents the test sets.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from floatnet.agent import actions as A
from floatnet.agent import sg_actions as S
from floatnet.agent.apply import ApplyResult, run_actions
from floatnet.agent.plan_security import project_security
from floatnet.agent.state import DEFAULT_ROUTE, Link, Namespace, Observed, OvsPort, Routes, Security, Tunnel
from floatnet.linux import vxlan
from floatnet.linux.errors import KernelError


class FakeKernel:
    """A node's kernel, OVS and dnsmasq as plain dictionaries."""

    def __init__(self) -> None:
        self.namespaces: dict[str, Namespace] = {}
        self.ovs: dict[str, OvsPort] = {}
        self.dhcp: dict[str, str] = {}
        self.security = Security()
        self.tunnels: dict[str, Tunnel] = {}
        self.cuts: list[A.Action] = []  # conntrack cuts asked for (CutRules, DeletePortFilter)
        self.jumps: dict[str, tuple[str, ...]] = {}  # port id -> the groups its filter jumps to
        self.applied: list[A.Action] = []
        self.fail: dict[str, str] = {}  # group -> reason: its actions raise KernelError
        self.dirty: set[str] = set()  # what changed() reports next (drift a test injected)

    def observe(self, wanted: Iterable[str]) -> Observed:
        return Observed(
            namespaces=dict(self.namespaces), ovs_ports=dict(self.ovs), dhcp=dict(self.dhcp),
            security=self.observe_security(), tunnels=dict(self.tunnels),
        )  # fmt: skip

    def observe_tunnels(self, names: Iterable[str] | None = None) -> dict[str, Tunnel]:
        return {n: t for n, t in self.tunnels.items() if names is None or n in set(names)}

    def observe_security(self) -> Security:
        return replace(self.security, applied={})

    def observe_namespace(self, name: str) -> Namespace | None:
        return self.namespaces.get(name)

    def observe_ovs(self) -> dict[str, OvsPort]:
        return dict(self.ovs)

    def observe_dhcp(self) -> dict[str, str]:
        return dict(self.dhcp)

    def apply(self, actions: Sequence[A.Action]) -> ApplyResult:
        return run_actions(actions, {kind: self._handle for kind in _HANDLERS})

    def changed(self) -> set[str]:
        dirty, self.dirty = self.dirty, set()
        return dirty

    def _handle(self, action: A.Action) -> None:
        if action.group in self.fail:
            raise KernelError(type(action).__name__, action.group, self.fail[action.group])
        self.applied.append(action)
        _HANDLERS[type(action)](self, action)

    def ns(self, name: str, **changes: Any) -> None:
        """Replace fields of a namespace (drift injected by a test)."""
        self.namespaces[name] = replace(self.namespaces[name], **changes)

    def link_set(self, ns: str, link: Link | None, dev: str = "") -> None:
        """Put ``link`` into ``ns`` (None: remove device ``dev``)."""
        links = dict(self.namespaces[ns].links)
        if link is None:
            links.pop(dev, None)
        else:
            links[link.name] = link
        self.ns(ns, links=links)

    def link(self, ns: str, dev: str, **changes: Any) -> None:
        links = dict(self.namespaces[ns].links)
        links[dev] = replace(links[dev], **changes)
        self.ns(ns, links=links)


def _plug(k: FakeKernel, a: A.PlugDevice) -> None:
    old = k.namespaces[a.ns].links.get(a.dev)
    k.link_set(a.ns, Link(a.dev, a.mac, old.addresses if old else frozenset()))
    k.ovs[a.dev] = OvsPort(a.dev, a.bridge, a.tag, a.iface_id, 1)


def _addresses(k: FakeKernel, ns: str, dev: str, fn: Any) -> None:
    link = k.namespaces[ns].links[dev]
    k.link(ns, dev, addresses=frozenset(fn(link.addresses)))


def _nat_fips(k: FakeKernel, ns: str, fn: Any) -> None:
    nat = k.namespaces[ns].nat
    assert nat is not None
    fips = dict(nat.fips)
    fn(fips)
    k.ns(ns, nat=replace(nat, fips=fips))


def _map(k: FakeKernel, a: A.AddFipMapping) -> None:
    """Like the kernel: the same pair again is a no-op, a floating or fixed IP mapped elsewhere is refused."""
    nat = k.namespaces[a.ns].nat
    assert nat is not None
    if nat.fips.get(a.fip, a.fixed) != a.fixed or any(x == a.fixed and f != a.fip for f, x in nat.fips.items()):
        raise KernelError("add floating IP", a.fip, "File exists")
    _nat_fips(k, a.ns, lambda f: f.__setitem__(a.fip, a.fixed))


def _unmap(k: FakeKernel, a: A.DelFipMapping) -> None:
    """Like the kernel: deleting a pair it does not hold is refused."""
    nat = k.namespaces[a.ns].nat
    if nat is None or nat.fips.get(a.fip) != a.fixed:
        raise KernelError("delete floating IP", a.fip, "No such file or directory")
    _nat_fips(k, a.ns, lambda f: f.pop(a.fip))


def _internal(k: FakeKernel, a: A.EditNatInternal) -> None:
    nat = k.namespaces[a.ns].nat
    if nat is None or not a.remove <= nat.internal_cidrs:
        raise KernelError("edit internal networks", a.ns, "No such file or directory")
    k.ns(a.ns, nat=replace(nat, internal_cidrs=(nat.internal_cidrs - a.remove) | a.add))


def _routes(k: FakeKernel, a: A.EditRoutes) -> None:
    """Like the kernel's main table: one route per destination, the default one apart."""
    routes = k.namespaces[a.ns].routes
    table = {d: v for d, v in routes.extra} | ({DEFAULT_ROUTE: routes.default_gw} if routes.default_gw else {})
    for dst, via in a.remove:
        if table.get(dst) == via:
            del table[dst]
    table.update(a.add)
    gw = table.pop(DEFAULT_ROUTE, None)
    k.ns(a.ns, routes=Routes(gw, frozenset(table.items())))


def _security(k: FakeKernel, a: A.Action) -> None:
    """The security tables change as the action's projection says; like nft, a group's chains cannot be
    deleted while a port's chain jumps to them. Conntrack cuts are recorded."""
    if isinstance(a, S.DeleteGroup) and any(a.group_id in g for g in k.jumps.values()):
        raise KernelError("sg delete group", a.group_id, "Device or resource busy")
    if isinstance(a, S.ReplacePortFilter):
        k.jumps[a.port.port_id] = a.port.groups
    if isinstance(a, S.DeletePortFilter):
        k.jumps.pop(a.port_id, None)
    if isinstance(a, S.CutRules | S.DeletePortFilter):
        k.cuts.append(a)
    k.security = project_security(k.security, [a])


def _delete_ns(k: FakeKernel, a: A.DeleteNamespace) -> None:
    k.namespaces.pop(a.ns, None)
    for port in a.ovs_ports:
        k.ovs.pop(port, None)


def _create_vxlan(k: FakeKernel, a: A.CreateVxlan) -> None:
    dev = vxlan.dev_name(a.vni)
    k.tunnels[dev] = Tunnel(dev, a.vni, a.local, vxlan.DSTPORT, False, a.mtu or 1500, True, a.peers)
    k.ovs[dev] = OvsPort(dev, a.bridge, a.tag, None, 1)


def _edit_peers(k: FakeKernel, a: A.EditVxlanPeers) -> None:
    dev = vxlan.dev_name(a.vni)
    k.tunnels[dev] = replace(k.tunnels[dev], peers=(k.tunnels[dev].peers - a.remove) | a.add)


_HANDLERS: dict[type, Any] = {
    A.CreateNamespace: lambda k, a: k.namespaces.setdefault(a.ns, Namespace(a.ns, forwarding=a.forwarding)),
    A.SetForwarding: lambda k, a: k.ns(a.ns, forwarding=a.on),
    A.DeleteNamespace: _delete_ns,
    A.PlugDevice: _plug,
    A.UnplugDevice: lambda k, a: (k.link_set(a.ns, None, a.dev), k.ovs.pop(a.dev, None)),
    A.SetTag: lambda k, a: k.ovs.__setitem__(a.port, replace(k.ovs[a.port], tag=a.tag)),
    A.DeleteOvsPort: lambda k, a: k.ovs.pop(a.port, None),
    A.SyncAddresses: lambda k, a: _addresses(k, a.ns, a.dev, lambda have: (have & a.keep) | a.wanted),
    A.EditAddresses: lambda k, a: _addresses(k, a.ns, a.dev, lambda have: (have - a.remove) | a.add),
    A.EditRoutes: _routes,
    A.ReplaceNat: lambda k, a: k.ns(a.ns, nat=a.table),
    A.EditNatInternal: _internal,
    A.AddFipMapping: _map,
    A.DelFipMapping: _unmap,
    A.FlushConntrack: lambda k, a: None,
    A.Garp: lambda k, a: None,
    A.EnsureRadvd: lambda k, a: k.ns(a.ns, radvd=a.config),
    A.StopRadvd: lambda k, a: k.ns(a.ns, radvd=None),
    A.EnsureKeepalived: lambda k, a: k.ns(a.ns, keepalived=a.config),
    A.StopKeepalived: lambda k, a: k.ns(a.ns, keepalived=None),
    A.EnsureDhcp: lambda k, a: k.dhcp.__setitem__(a.config.network_id, a.config.fingerprint()),
    A.StopDhcp: lambda k, a: k.dhcp.pop(a.network_id, None),
    A.CreateVxlan: _create_vxlan,
    A.EditVxlanPeers: _edit_peers,
    A.DeleteVxlan: lambda k, a: (k.tunnels.pop(a.dev, None), k.ovs.pop(a.dev, None)),
    **{kind: _security for kind in (S.ReplaceGroup, S.DeleteGroup, S.EditMembers, S.CutRules, S.ReplacePortFilter,
                                    S.DeletePortFilter)},  # fmt: skip
}


class FakeServer:
    """The agent's client, answering from ``routers``/``networks``/``ports`` documents the test edits."""

    def __init__(self, routers: Iterable[dict[str, Any]] = (), networks: Iterable[dict[str, Any]] = ()) -> None:
        self.routers = {r["id"]: r for r in routers}
        self.networks = {n["id"]: n for n in networks}
        self.ports: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {}  # security groups: id -> {"id", "stateful", "rules"}
        self.elsewhere: dict[str, list[str]] = {}  # remote-group members on other hosts: group -> addresses
        self.asked: list[dict[str, set[str]]] = []  # the filters of every state call
        self.seq = 1
        self.statuses: dict[str, dict[str, str]] = {"ports": {}, "floatingips": {}, "routers": {}}
        self.registered: list[Mapping[str, Any]] = []

    def register(self, configurations: Mapping[str, Any], start_flag: bool = False) -> None:
        self.registered.append(copy.deepcopy(dict(configurations)))

    def state(
        self, routers: Iterable[str] = (), networks: Iterable[str] = (), floatingips: Iterable[str] = (),
        groups: Iterable[str] = (), rules: Iterable[str] = (),
    ) -> dict[str, Any]:  # fmt: skip
        routers, networks, fips, groups = set(routers), set(networks), set(floatingips), set(groups)
        self.asked.append({"routers": routers, "networks": networks, "groups": groups, "rules": set(rules)})
        whole = not (routers or networks or groups or rules)
        doc: dict[str, Any] = {"seq": self.seq, "absent": {"routers": [], "networks": []}}
        doc["routers"] = [self._router(r, fips) for i, r in self.routers.items() if whole or i in routers]
        doc["networks"] = [copy.deepcopy(n) for i, n in self.networks.items() if whole or i in networks]
        doc["ports"] = [copy.deepcopy(p) for p in self.ports.values() if whole or p["network_id"] in networks]
        owners = {g["id"] for g in self.groups.values() for rule in g["rules"] if rule.get("id") in set(rules)}
        doc["security"] = self._security(doc["ports"], groups | owners)
        doc["absent"]["routers"] = sorted(routers - set(self.routers))
        doc["absent"]["networks"] = sorted(networks - set(self.networks))
        if groups or rules:
            doc["absent"]["security_groups"] = sorted(groups - set(self.groups))
        return doc

    def _security(self, ports: list[dict[str, Any]], asked: set[str]) -> dict[str, Any]:
        """The groups of the listed ports and the asked ones, and the members of every group their rules name
        (any host)."""
        used = sorted({g for p in ports for g in p.get("security_groups", ())} | asked)
        groups = [copy.deepcopy(self.groups[g]) for g in used if g in self.groups]
        remote = {r["remote_group_id"] for g in groups for r in g["rules"] if r.get("remote_group_id")}
        members = {
            rg: sorted(
                [ip["ip_address"] for p in self.ports.values() if rg in p.get("security_groups", ())
                 for ip in p["fixed_ips"]] + self.elsewhere.get(rg, [])
            )
            for rg in remote
        }  # fmt: skip
        return {"groups": groups, "remote_groups": members}

    @staticmethod
    def _router(router: dict[str, Any], fips: set[str]) -> dict[str, Any]:
        out = copy.deepcopy(router)
        if fips:
            out["floatingips"] = [f for f in out["floatingips"] if f["id"] in fips]
            out["floatingips_partial"] = True
        return out

    def changes(self, after: int, timeout: float = 30.0) -> dict[str, Any]:
        return {"seq": after, "changes": []}

    def report_status(self, statuses: Mapping[str, Mapping[str, str]]) -> None:
        for kind, values in statuses.items():
            self.statuses.setdefault(kind, {}).update(values)
