"""``floatnet diagnose <IPv6 instance address>``: the routed path of an instance's IPv6 address, hop by hop.

IPv6 has no floating IPs (Neutron routes instances' IPv6 addresses, it never NATs them), so the path to judge is
not a floating IP's but the address's own: the port holding it and its subnet (with the subnet's IPv6 modes),
the router with an interface on that subnet and an IPv6 address on its gateway, then on this node the router's
namespace with IPv6 forwarding, the subnet's gateway address on ``qr-``, the gateway's IPv6 address on ``qg-``,
the ``::/0`` route via the external IPv6 subnet's gateway, and — for a subnet whose ``ipv6_ra_mode`` is set —
the router's radvd advertising its prefix (how instances learn their address and default route). The port's
security groups are judged as for a floating IP (:mod:`floatnet.diagnose.checks_security`), with the traffic
coming from the upstream router (the external IPv6 subnet's gateway) unless ``--from`` says otherwise: without
``--protocol`` what they admit from there, with it whether they — and the filter installed for them — admit
that flow; then the port's ``ACTIVE`` status. Same runner, same renderings as the floating-IP diagnosis
(:mod:`floatnet.diagnose.result`).
"""

from __future__ import annotations

import ipaddress
import os
from functools import cached_property
from pathlib import Path
from typing import Any

from floatnet.diagnose import checks_api, checks_security, probe
from floatnet.diagnose.facts import INTERFACE_OWNERS, Local, PortFacts, Query, prefixlen
from floatnet.diagnose.reader import NeutronReader
from floatnet.diagnose.result import Check, CheckFailed, Result, failed, passed, run_checks
from floatnet.diagnose.sg_match import Traffic, make_traffic

RESYNC = "restart `floatnet agent` (a full resync re-applies the router)"


def is_ipv6_address(ref: str) -> bool:
    """Whether ``ref`` is an IPv6 address (floating IPs are IPv4: such a reference is an instance's address)."""
    try:
        return ipaddress.ip_address(ref).version == 6
    except ValueError:
        return False


class Facts6(PortFacts):
    """What a diagnosis of IPv6 address ``address`` knows, looked up once, on demand (see :class:`Facts`);
    ``query`` is the traffic to judge the port's security groups for (None: summarise them)."""

    def __init__(self, reader: NeutronReader, address: str, local: Local | None = None,
                 query: Query | None = None) -> None:  # fmt: skip
        self.api = reader
        self.address = str(ipaddress.ip_address(address))
        self.local = local or Local()
        self.query = query

    @cached_property
    def port(self) -> dict[str, Any] | None:
        found = self.api.query("port", fixed_ips=f"ip_address={self.address}")
        return next((p for p in found if any(self._is_mine(f) for f in p.get("fixed_ips", []))), None)

    def _is_mine(self, fixed: dict[str, Any]) -> bool:
        return is_ipv6_address(fixed.get("ip_address", "")) and str(ipaddress.ip_address(fixed["ip_address"])) == (
            self.address
        )

    @cached_property
    def subnet(self) -> dict[str, Any] | None:
        assert self.port is not None
        fixed = next(f for f in self.port["fixed_ips"] if self._is_mine(f))
        return self.api.show("subnet", fixed["subnet_id"])

    @cached_property
    def interface_port(self) -> dict[str, Any] | None:
        """The router port on the address's subnet (the instance's IPv6 gateway)."""
        assert self.subnet is not None
        for owner in INTERFACE_OWNERS:
            for port in self.api.query("port", network_id=self.subnet["network_id"], device_owner=owner):
                if any(f.get("subnet_id") == self.subnet["id"] for f in port.get("fixed_ips", [])):
                    return port
        return None

    @property
    def router_id(self) -> str:
        assert self.interface_port is not None
        return str(self.interface_port["device_id"])

    @cached_property
    def router(self) -> dict[str, Any] | None:
        return self.api.show("router", self.router_id)

    @cached_property
    def gateway6(self) -> tuple[str, dict[str, Any]] | None:
        """The router's IPv6 gateway address and the external subnet it is on (None: IPv4 gateway only)."""
        assert self.router is not None
        info = self.router.get("external_gateway_info") or {}
        for fixed in info.get("external_fixed_ips") or []:
            if is_ipv6_address(fixed.get("ip_address", "")):
                subnet = self.api.show("subnet", fixed["subnet_id"])
                if subnet is not None:
                    return str(fixed["ip_address"]), subnet
        return None

    @property
    def fixed_ip(self) -> str:
        return self.address

    @property
    def source(self) -> str:
        """Where the checked traffic comes from: ``--from``, else the upstream router (the external IPv6
        subnet's gateway)."""
        if self.query is not None and self.query.source:
            return self.query.source
        assert self.gateway6 is not None
        return str(self.gateway6[1]["gateway_ip"])

    @cached_property
    def traffic(self) -> Traffic | None:
        q = self.query
        return make_traffic(self.source, q.protocol, q.port, q.icmp_type, q.icmp_code) if q is not None else None

    @property
    def router_ns(self) -> str:
        return f"qrouter-{self.router_id}"

    @cached_property
    def router_links(self) -> dict[str, dict[str, Any]]:
        return probe.links(self.router_ns)

    def device(self, owner: str, port: dict[str, Any], cidr: str) -> str:
        """The router device of ``port`` with ``cidr`` on it and up; CheckFailed naming what is wrong."""
        dev = f"{owner}{port['id'][:11]}"
        link = self.router_links.get(dev)
        shown = f"ip -n {self.router_ns} addr show dev {dev}"
        if link is None or not probe.is_up(link):
            raise CheckFailed(f"{dev} is missing or down in {self.router_ns}", RESYNC, shown)
        have = {f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", []) if a.get("family") == "inet6"}
        if cidr not in have:
            raise CheckFailed(f"{dev} lacks {cidr} (has {sorted(have) or 'no IPv6 address'})", RESYNC, shown)
        return dev


def address(f: Facts6) -> Result:
    if f.port is None:
        return failed(f"no port has the address {f.address}", "check the address: `floatnet port-list`",
                      f"floatnet port-list --fixed-ips ip_address={f.address}")  # fmt: skip
    return passed(f"{f.address} is port {f.port['id']} ({f.port.get('device_owner') or 'no owner'}, "
                  f"status {f.port.get('status')})")  # fmt: skip


def subnet(f: Facts6) -> Result:
    s = f.subnet
    if s is None:
        return failed("the port's IPv6 subnet cannot be read", "check the port's fixed_ips")
    modes = f"ipv6_ra_mode {s.get('ipv6_ra_mode')}, ipv6_address_mode {s.get('ipv6_address_mode')}"
    hint = ("" if s.get("ipv6_ra_mode") else
            "no ipv6_ra_mode: the router does not advertise this subnet, an external router must")  # fmt: skip
    return passed(f"subnet {s['id']} {s['cidr']} ({modes})", f"floatnet subnet-show {s['id']}", hint)


def routed(f: Facts6) -> Result:
    if f.interface_port is None or f.router is None:
        return failed(f"no router has an interface on subnet {f.subnet and f.subnet['cidr']}: the address reaches "
                      "nothing beyond its network", "`floatnet router-interface-add <router> <subnet>`")  # fmt: skip
    return passed(f"routed by router {f.router_id}: IPv6 is not NATed (no floating IP), the address itself is "
                  "reachable from outside as far as the port's security groups allow")  # fmt: skip


def gateway(f: Facts6) -> Result:
    if f.gateway6 is None:
        return failed(f"router {f.router_id} has no IPv6 address on its gateway: IPv6 traffic has no way out",
                      "give the gateway an IPv6 subnet: `floatnet router-update` external_gateway_info with "
                      "external_fixed_ips [{subnet_id: <IPv4>}, {subnet_id: <IPv6 external subnet>}]")  # fmt: skip
    ip, ext = f.gateway6
    return passed(f"gateway address {ip} on {ext['cidr']}, upstream gateway {ext.get('gateway_ip')}")


def privileges(f: Facts6) -> Result:
    if os.geteuid() != 0:
        return failed("not running as root: this node's namespaces cannot be read",
                      "run it as root on the node hosting the router", "id -u")  # fmt: skip
    return passed("running as root on this node: kernel checks follow")


def namespace(f: Facts6) -> Result:
    if f.router_ns not in probe.netns_names():
        return failed(f"namespace {f.router_ns} does not exist on this node",
                      f"check that `floatnet agent` runs here; {RESYNC}", "ip netns list")  # fmt: skip
    return passed(f"{f.router_ns} present", "ip netns list")


def forwarding(f: Facts6) -> Result:
    value = probe.ns_sysctl(f.router_ns, "net/ipv6/conf/all/forwarding")
    shown = f"ip netns exec {f.router_ns} sysctl net.ipv6.conf.all.forwarding"
    if value != "1":
        return failed(f"IPv6 forwarding is {value} in {f.router_ns}: nothing is routed", RESYNC, shown)
    return passed(f"IPv6 forwarding on in {f.router_ns}", shown)


def interface(f: Facts6) -> Result:
    assert f.interface_port is not None and f.subnet is not None
    ip = next(x["ip_address"] for x in f.interface_port["fixed_ips"] if x["subnet_id"] == f.subnet["id"])
    cidr = f"{ip}/{prefixlen(f.subnet['cidr'])}"
    return passed(f"{f.device('qr-', f.interface_port, cidr)} up with {cidr}")


def gateway_device(f: Facts6) -> Result:
    assert f.gateway6 is not None and f.router is not None
    ip, ext = f.gateway6
    ports = f.api.query("port", device_id=f.router_id, device_owner="network:router_gateway")
    if not ports:
        return failed(f"router {f.router_id} has no gateway port", "set the router's gateway")
    cidr = f"{ip}/{prefixlen(ext['cidr'])}"
    return passed(f"{f.device('qg-', ports[0], cidr)} up with {cidr}")


def default_route(f: Facts6) -> Result:
    assert f.gateway6 is not None
    via = f.gateway6[1].get("gateway_ip")
    shown = f"ip -n {f.router_ns} -6 route show default"
    found = probe.run_json(["ip", "-j", "-6", "-n", f.router_ns, "route", "show", "default"])
    if not any(r.get("gateway") == via for r in found):
        have = "; ".join(f"via {r.get('gateway')}" for r in found) or "none"
        return failed(f"no IPv6 default route via {via} (have: {have})", RESYNC, shown)
    return passed(f"::/0 via {via}", shown)


def advertisements(f: Facts6) -> Result:
    """radvd runs in the router's namespace and advertises the subnet's prefix (when ``ipv6_ra_mode`` is set)."""
    assert f.subnet is not None
    if not f.subnet.get("ipv6_ra_mode"):
        return passed("the subnet has no ipv6_ra_mode: the router is not its advertiser")
    shown = f"ip netns pids {f.router_ns}; cat <radvd -C file>"
    for proc in probe.processes_in_netns(f.router_ns, "radvd"):
        config = proc.argv[proc.argv.index("-C") + 1] if "-C" in proc.argv else ""
        if config and f"prefix {f.subnet['cidr']}" in Path(config).read_text():
            return passed(f"radvd (pid {proc.pid}) advertises {f.subnet['cidr']} ({f.subnet['ipv6_ra_mode']})",
                          shown)  # fmt: skip
    return failed(f"no radvd in {f.router_ns} advertises {f.subnet['cidr']}: instances get no address or route "
                  "from the router", RESYNC, shown)  # fmt: skip


C = Check[Facts6]
CHECKS: tuple[C, ...] = (
    C("api.address", address),
    C("api.subnet", subnet, ("api.address",)),
    C("api.routed", routed, ("api.subnet",)),
    C("api.gateway_ipv6", gateway, ("api.routed",)),
    C("security.groups", checks_security.groups, ("api.address", "api.gateway_ipv6")),
    C("node.root", privileges),
    C("router.namespace", namespace, ("api.routed", "node.root")),
    C("router.forwarding_ipv6", forwarding, ("router.namespace",)),
    C("router.qr_ipv6", interface, ("router.namespace",)),
    C("router.qg_ipv6", gateway_device, ("router.namespace", "api.gateway_ipv6")),
    C("router.default_route_ipv6", default_route, ("router.qg_ipv6",)),
    C("router.advertisements", advertisements, ("router.qr_ipv6",)),
    C("security.filter", checks_security.kernel_filter, ("security.groups", "node.root")),
    C("api.port_active", checks_api.port_active, ("api.address",)),
)


def diagnose_address(reader: NeutronReader, address: str, local: Local | None = None,
                     query: Query | None = None) -> list[Result]:  # fmt: skip
    """Every check of IPv6 address ``address``'s routed path, in path order; the first FAIL is the broken hop.
    With ``query`` the security-group hops judge that one kind of traffic."""
    return run_checks(CHECKS, Facts6(reader, address, local, query))
