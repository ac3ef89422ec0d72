"""The dataplane's view of routers: gateway, interfaces (with subnet and L2 wiring), routes, floating IPs.

:func:`load` answers any number of routers with four indexed queries (routers by primary key; their ports
joined to addresses, subnets and networks through ``router_ports.router_id``; extra routes by
``router_routes.router_id``; floating IPs by ``floatingips.router_id``, and the port forwardings of those
without a port by ``portforwardings.floatingip_id``) — never a scan of all floating IPs, so the cost follows the
routers asked for, not the size of the cloud.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import BindParameter, Select, bindparam, or_, select
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.agent_protocol import tunnel_peers
from floatnet.core.agent_protocol.scheduling import L3_AGENT
from floatnet.db.models import (
    Agent,
    FloatingIP,
    HARouterAgentPortBinding,
    IPAllocation,
    Network,
    Port,
    PortForwarding,
    Router,
    RouterPort,
    RouterRoute,
    Subnet,
)

GATEWAY = "network:router_gateway"
INTERFACE = "network:router_interface"


WIRED_PORT = (
    Port.id.label("port_id"), Port.mac_address, IPAllocation.ip_address, IPAllocation.subnet_id, Subnet.cidr,
    Subnet.gateway_ip, Subnet.ipv6_ra_mode, Subnet.ipv6_address_mode, Network.id.label("network_id"),
    Network.network_type, Network.physical_network, Network.segmentation_id, Network.mtu,
)  # fmt: skip
"""A router port's columns with its address, subnet and network wiring: the interface and HA port queries."""


# Every statement is built once (``ids``: the expanding list of router or floating-IP ids): an agent refetches
# its router on every floating-IP change, and building a statement cost ~8 times running it on SQLite.
IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)


def _wired(stmt: Select[*tuple[Any, ...]], port_id: Any) -> Select[*tuple[Any, ...]]:
    """``stmt`` (selecting :data:`WIRED_PORT`) joined to the port ``port_id`` names, its addresses, their
    subnets and its network."""
    return (
        stmt.join(Port, Port.id == port_id)
        .join(IPAllocation, IPAllocation.port_id == Port.id)
        .join(Subnet, Subnet.id == IPAllocation.subnet_id)
        .join(Network, Network.id == Port.network_id)
    )


_PORT_ROWS = (
    _wired(select(RouterPort.router_id, RouterPort.port_type, *WIRED_PORT), RouterPort.port_id)
    .where(RouterPort.router_id.in_(IDS))
    .order_by(RouterPort.router_id, Port.created_at, Port.id, IPAllocation.ip_address)
)
_FORWARDINGS = select(PortForwarding).where(PortForwarding.floatingip_id.in_(IDS)).order_by(PortForwarding.id)
_FIPS = (
    select(FloatingIP.router_id, FloatingIP.id, FloatingIP.floating_ip_address, FloatingIP.fixed_ip_address,
           FloatingIP.fixed_port_id, FloatingIP.status)
    .where(
        FloatingIP.router_id.in_(IDS),
        or_(FloatingIP.fixed_port_id.is_not(None), FloatingIP.id.in_(select(PortForwarding.floatingip_id))),
    )
    .order_by(FloatingIP.router_id, FloatingIP.floating_ip_address)
)  # fmt: skip
_ONLY: BindParameter[list[str]] = bindparam("only", expanding=True)
_FIPS_ONLY = _FIPS.where(FloatingIP.id.in_(_ONLY))
_ROUTES = (
    select(RouterRoute.router_id, RouterRoute.destination, RouterRoute.nexthop)
    .where(RouterRoute.router_id.in_(IDS))
    .order_by(RouterRoute.router_id, RouterRoute.destination, RouterRoute.nexthop)
)
_ROUTERS = (
    select(Router.id, Router.name, Router.admin_state_up, Router.enable_snat, Router.gw_port_id)
    .where(Router.id.in_(IDS))
    .order_by(Router.id)
)
_HA_PORTS = (
    _wired(select(HARouterAgentPortBinding.router_id, Router.ha_vr_id, *WIRED_PORT), HARouterAgentPortBinding.port_id)
    .join(Router, Router.id == HARouterAgentPortBinding.router_id)
    .join(Agent, Agent.id == HARouterAgentPortBinding.l3_agent_id)
    .where(
        HARouterAgentPortBinding.router_id.in_(IDS),
        Router.ha.is_(True),
        Agent.host == bindparam("host"),
        Agent.agent_type == L3_AGENT,
    )
)


def _port_rows(session: Session, router_ids: list[str]) -> Sequence[Any]:
    return session.execute(_PORT_ROWS, {"ids": router_ids}).all()


def _router_port(config: Config, row: Any) -> dict[str, Any]:
    return {
        "port_id": row.port_id,
        "mac_address": row.mac_address,
        "ip_address": row.ip_address,
        "prefixlen": int(row.cidr.rsplit("/", 1)[1]),
        "subnet_id": row.subnet_id,
        "cidr": row.cidr,
        "network_id": row.network_id,
        "bridge": tunnel_peers.bridge_for(config, row.network_type, row.physical_network) or "",
        "network_type": row.network_type,
        "segmentation_id": row.segmentation_id,
        "mtu": row.mtu,
        **(
            {"ipv6_ra_mode": row.ipv6_ra_mode, "ipv6_address_mode": row.ipv6_address_mode}
            if ":" in row.ip_address
            else {}
        ),
    }


def _forwardings(session: Session, fip_ids: Any) -> dict[str, list[dict[str, Any]]]:
    """The port forwardings of the floating IPs ``fip_ids`` selects, by floating IP (ranges as "N:M")."""
    result: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for pf in session.scalars(_FORWARDINGS, {"ids": list(fip_ids)}):
        result[pf.floatingip_id].append(
            {
                "id": pf.id,
                "protocol": pf.protocol,
                "external_port_range": f"{pf.external_port_start}:{pf.external_port_end}",
                "internal_ip_address": pf.internal_ip_address,
                "internal_port_range": f"{pf.internal_port_start}:{pf.internal_port_end}",
            }
        )
    return result


def _floatingips(
    session: Session, router_ids: list[str], only: list[str] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Each router's floating IPs that it translates: associated ones, and those with port forwardings
    (``fixed_ip_address`` null, ``port_forwardings`` listed)."""
    result: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if only is None:
        rows = session.execute(_FIPS, {"ids": router_ids}).all()
    else:
        rows = session.execute(_FIPS_ONLY, {"ids": router_ids, "only": only}).all()
    forwarded_ids = [row.id for row in rows if row.fixed_port_id is None]
    pfs = _forwardings(session, forwarded_ids) if forwarded_ids else {}
    for row in rows:
        fip = {
            "id": row.id,
            "floating_ip_address": row.floating_ip_address,
            "fixed_ip_address": row.fixed_ip_address,
            "port_id": row.fixed_port_id,
            "status": row.status,
        }
        result[row.router_id].append({**fip, "port_forwardings": pfs[row.id]} if row.id in pfs else fip)
    return result


def _routes(session: Session, router_ids: list[str]) -> dict[str, list[dict[str, str]]]:
    result: dict[str, list[dict[str, str]]] = defaultdict(list)
    rows = session.execute(_ROUTES, {"ids": router_ids})
    for router_id, destination, nexthop in rows:
        result[router_id].append({"destination": destination, "nexthop": nexthop})
    return result


def load(
    session: Session, config: Config, router_ids: list[str], floatingip_ids: list[str] | None = None
) -> list[dict[str, Any]]:
    """The dataplane view of each router in ``router_ids`` that exists (see the module docstring).

    With ``floatingip_ids``, each router lists only those of its floating IPs and says so
    (``"floatingips_partial": true``): an agent refetching a router for one floating-IP change gets one
    element, not the router's thousands.
    """
    if not router_ids:
        return []
    routers = session.execute(_ROUTERS, {"ids": router_ids}).all()
    gateways: dict[str, dict[str, dict[str, Any]]] = {"gateway": {}, "gateway_ipv6": {}}
    interfaces: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in _port_rows(session, router_ids):
        if row.port_type == GATEWAY:  # the first address of each family: IPv4 is NATed, IPv6 routed
            family = gateways["gateway_ipv6" if ":" in row.ip_address else "gateway"]
            family.setdefault(row.router_id, {**_router_port(config, row), "gateway_ip": row.gateway_ip})
        else:
            interfaces[row.router_id].append(_router_port(config, row))
    fips = _floatingips(session, router_ids, floatingip_ids)
    routes = _routes(session, router_ids)
    return [
        {
            "id": r.id,
            "name": r.name,
            "admin_state_up": r.admin_state_up,
            "enable_snat": r.enable_snat,
            "routes": routes.get(r.id, []),
            "gateway": gateways["gateway"].get(r.id),
            "gateway_ipv6": gateways["gateway_ipv6"].get(r.id),
            "interfaces": interfaces.get(r.id, []),
            "floatingips": fips.get(r.id, []),
            **({"floatingips_partial": True} if floatingip_ids is not None else {}),
        }
        for r in routers
    ]


def attach_ha(session: Session, config: Config, routers: list[dict[str, Any]], host: str) -> None:
    """Give each router its ``ha`` section for ``host`` (one indexed query): for an HA router with a replica
    there, its VRRP id and that replica's HA port (address on the HA subnet, L2 wiring of the HA network);
    ``null`` for any other router (an HA router without a replica here is not on this host's list)."""
    ids = [router["id"] for router in routers]
    rows = session.execute(_HA_PORTS, {"ids": ids, "host": host}).all() if ids else []
    found = {row.router_id: {"vr_id": row.ha_vr_id, "port": _router_port(config, row)} for row in rows}
    for router in routers:
        router["ha"] = found.get(router["id"])
