"""The ordered list of checks and their dependencies: the path, hop by hop.

Order is the order an operator walks it, and a check's ``needs`` are the hops it cannot be judged without (no
namespace → no address in it to look at). Deviation from a strict listing order, on purpose: the external
side's L2 (``qg-`` OVS port, the physnet bridge's uplink) comes BEFORE the upstream ARP check, because a dead
uplink is the cause and the unanswered ARP only its symptom — so the first FAIL names the cause. Likewise the
port's ``ACTIVE`` status (the agent's summary of the instance's L2 plug) is judged right after the plug, and
after the port's installed security-group filter: the agent reports a port ACTIVE only once it is filtered, so
a missing filter is the cause and the status its symptom. The security groups' rules are API state and are
judged with the other API hops.
"""

from __future__ import annotations

from floatnet.diagnose import checks_api as api
from floatnet.diagnose import checks_ha as ha
from floatnet.diagnose import checks_l2 as l2
from floatnet.diagnose import checks_router as rt
from floatnet.diagnose import checks_security as sec
from floatnet.diagnose.facts import Facts, Local, Query
from floatnet.diagnose.ipv6 import diagnose_address, is_ipv6_address
from floatnet.diagnose.reader import NeutronReader
from floatnet.diagnose.result import Check, Result, run_checks

C = Check[Facts]

CHECKS: tuple[C, ...] = (
    C("api.floatingip", api.floatingip),
    C("api.associated", api.associated, ("api.floatingip",)),
    C("api.port", api.port, ("api.associated",)),
    C("api.subnet", api.subnet, ("api.port",)),
    C("api.router", api.router, ("api.associated",)),
    C("api.router_gateway", api.router_gateway, ("api.router",)),
    C("api.router_interface", api.router_interface, ("api.router", "api.subnet")),
    C("api.external_subnet", api.external_subnet, ("api.router_gateway",)),
    C("security.groups", sec.groups, ("api.port", "api.external_subnet")),
    C("agent.alive", api.agent, ("api.port", "api.router")),
    C("ha.single_holder", ha.single_holder, ("api.router", "api.router_gateway")),
    C("node.root", rt.privileges),
    C("router.namespace", rt.namespace, ("api.router", "node.root")),
    C("router.forwarding", rt.forwarding, ("router.namespace",)),
    C("router.qg", rt.gateway_device, ("router.namespace", "api.router_gateway", "api.external_subnet")),
    C("router.fip_address", rt.fip_address, ("router.qg",)),
    C("router.qr", rt.interface_device, ("router.namespace", "api.router_interface")),
    C("nat.table", rt.nat_table, ("router.namespace",)),
    C("nat.rules", rt.nat_rules, ("nat.table",)),
    C("nat.dnat", rt.dnat, ("nat.table",)),
    C("nat.snat", rt.snat, ("nat.table",)),
    C("router.default_route", rt.default_route, ("router.qg",)),
    C("ovs.qg", l2.gateway_port, ("api.router_gateway", "node.root")),
    C("uplink.external", l2.external_uplink, ("api.router_gateway", "node.root")),
    C("router.upstream_arp", rt.upstream_arp, ("router.default_route", "ovs.qg", "uplink.external")),
    C("ovs.qr", l2.interface_port, ("api.router_interface", "node.root")),
    C("ovs.instance", l2.instance_port, ("api.subnet", "node.root")),
    C("security.filter", sec.kernel_filter, ("security.groups", "ovs.instance")),
    C("api.port_active", api.port_active, ("api.port",)),
    C("uplink.internal", l2.internal_uplink, ("api.subnet", "node.root")),
    C("dhcp.namespace", l2.dhcp_namespace, ("api.subnet", "node.root")),
    C("dhcp.dnsmasq", l2.dnsmasq, ("dhcp.namespace",)),
    C("dhcp.host", l2.dhcp_host, ("dhcp.dnsmasq",)),
    C("dhcp.dns", l2.dhcp_dns, ("dhcp.dnsmasq",)),
    C("conntrack.stale", rt.conntrack, ("router.namespace", "api.associated")),
)


def diagnose(reader: NeutronReader, ref: str, local: Local | None = None, query: Query | None = None) -> list[Result]:
    """Every check for floating IP ``ref`` (address or id) in path order; the first FAIL is the broken hop.
    With ``query`` the security-group hops judge that one kind of traffic (``--protocol``/``--port``). An IPv6
    address is an instance's own (floating IPs are IPv4): its routed path is judged instead, with the same
    security-group hops (:mod:`floatnet.diagnose.ipv6`)."""
    if is_ipv6_address(ref):
        return diagnose_address(reader, ref, local, query)
    return run_checks(CHECKS, Facts(reader, ref, local, query))
