"""The desired state of one host (``GET /v2.0/floatnet/hosts/{host}/state``): a consistent snapshot + its seq.

One read transaction: the change-feed ``seq`` is read first, so anything committed later is newer than the
snapshot and reaches the agent through the feed. Placement comes from :mod:`floatnet.core.agent_protocol.scheduling`.
Filters (``router_ids``/``network_ids``/``port_ids``) restrict the answer to those resources; a filtered id
that is gone or not placed on this host is listed under ``absent`` so the agent removes it. The security
filters (``security_group_ids``/``security_group_rule_ids``) add those groups to the ``security`` section
(alone, they answer nothing else: a rule change costs its group's rules, not its networks' ports); an asked
group that is gone is listed under ``absent.security_groups``. Without any filter everything the host runs
is listed (``complete``).

Routers come from :mod:`floatnet.core.agent_protocol.router_slice` (a few indexed queries for any number of routers).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BindParameter, bindparam, select
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.agent_protocol import router_slice, security_slice, tunnel_peers
from floatnet.core.agent_protocol.feed import latest_seq
from floatnet.core.agent_protocol.scheduling import DHCP, ROUTER, Candidates, candidates
from floatnet.core.service import load_dhcp_opts
from floatnet.db.models import IPAllocation, Network, Port, Router, RouterPort, Subnet

DHCP_OWNER = "network:dhcp"
# The statements of a filtered answer (an agent's refetch after every change concerning it), built once: building
# one cost ~8 times running it on SQLite. ``ids`` and the named lists are expanding.
IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)
_FIXED_IPS = (
    select(IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address, Subnet.cidr)
    .join(Subnet, Subnet.id == IPAllocation.subnet_id)
    .where(IPAllocation.port_id.in_(IDS))
    .order_by(IPAllocation.port_id, Subnet.created_at, IPAllocation.ip_address)
)
_BOUND_PORTS = (
    select(Port.__table__, Network.network_type, Network.physical_network, Network.segmentation_id)
    .join(Network, Network.id == Port.network_id)
    .where(Port.binding_host_id == bindparam("host"), ~Port.device_owner.startswith("network:"))
)
_BOUND_PORTS_OF = _BOUND_PORTS.where(
    Port.id.in_(bindparam("port_ids", expanding=True)) | Port.network_id.in_(bindparam("network_ids", expanding=True))
)
_DHCP_SUBNETS = select(Subnet.__table__).where(Subnet.enable_dhcp.is_(True)).order_by(Subnet.created_at, Subnet.id)
_DHCP_SUBNETS_OF = _DHCP_SUBNETS.where(Subnet.network_id.in_(IDS))
_ROUTER_IDS = select(Router.id).where(Router.id.in_(IDS))
_ROUTERS_ON = (
    select(RouterPort.router_id, Port.network_id)
    .join(Port, Port.id == RouterPort.port_id)
    .where(Port.network_id.in_(IDS))
)


@dataclass
class Filters:
    """Ids asked for; all empty = the complete state."""

    router_ids: list[str] = field(default_factory=list)
    network_ids: list[str] = field(default_factory=list)
    port_ids: list[str] = field(default_factory=list)
    floatingip_ids: list[str] = field(default_factory=list)  # narrows the routers' floating IPs
    security_group_ids: list[str] = field(default_factory=list)  # these groups' rules (and remote members)
    security_group_rule_ids: list[str] = field(default_factory=list)  # the groups of these rules

    @property
    def complete(self) -> bool:
        return not (
            self.router_ids or self.network_ids or self.port_ids or self.floatingip_ids
            or self.security_group_ids or self.security_group_rule_ids
        )  # fmt: skip


def _hostname(port: Any, ip_address: str) -> str:
    return port.dns_name or "host-" + ip_address.replace(".", "-").replace(":", "-")


def _fixed_ips(session: Session, port_ids: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """Fixed IPs (with prefix length) of many ports in one query."""
    result: dict[str, list[dict[str, Any]]] = defaultdict(list)
    rows = session.execute(_FIXED_IPS, {"ids": list(port_ids)})
    for port_id, subnet_id, ip_address, cidr in rows:
        prefixlen = int(cidr.rsplit("/", 1)[1])
        result[port_id].append({"subnet_id": subnet_id, "ip_address": ip_address, "prefixlen": prefixlen})
    return result


def _wiring(config: Config, network: Any) -> dict[str, Any]:
    return {
        "bridge": tunnel_peers.bridge_for(config, network.network_type, network.physical_network) or "",
        "network_type": network.network_type,
        "segmentation_id": network.segmentation_id,
    }


def _bound_ports(
    session: Session, config: Config, host: str, filters: Filters
) -> tuple[list[dict[str, Any]], list[str]]:
    """Instance ports bound to ``host`` (and the filtered port ids that are not)."""
    if filters.complete:
        rows = session.execute(_BOUND_PORTS, {"host": host}).all()
    elif filters.port_ids or filters.network_ids:
        asked = {"host": host, "port_ids": filters.port_ids, "network_ids": filters.network_ids}
        rows = session.execute(_BOUND_PORTS_OF, asked).all()
    else:
        return [], []
    ips = _fixed_ips(session, [row.id for row in rows])
    ports = [
        {
            "id": row.id,
            "network_id": row.network_id,
            "mac_address": row.mac_address,
            "admin_state_up": row.admin_state_up,
            "status": row.status,
            "device_owner": row.device_owner,
            "port_security_enabled": row.port_security_enabled,
            **_wiring(config, row),
            "fixed_ips": ips.get(row.id, []),
        }
        for row in rows
    ]
    found = {port["id"] for port in ports}
    return ports, [port_id for port_id in filters.port_ids if port_id not in found]


def _own_dhcp_port(ports: Sequence[Any], host: str) -> Any:
    """The DHCP port ``host`` serves the network from: the one bound to it (each DHCP host has its own, with its
    own address), else one bound to no host yet (made before any agent registered; the next report's placement
    gives it to a host), else None."""
    dhcp_ports = [p for p in ports if p.device_owner == DHCP_OWNER]
    own = next((p for p in dhcp_ports if p.binding_host_id == host), None)
    return own or next((p for p in dhcp_ports if not p.binding_host_id), None)


def _dhcp_section(session: Session, network_id: str, subnets: list[Any], host: str) -> dict[str, Any] | None:
    """A network's DHCP service on ``host``: its own DHCP port, the DHCP-enabled subnets and the static hosts —
    every port of the network but the DHCP ports, so each DHCP host serves the same list (None without a
    port)."""
    ports = session.execute(select(Port.__table__).where(Port.network_id == network_id)).all()
    dhcp_port = _own_dhcp_port(ports, host)
    if dhcp_port is None:
        return None
    ips = _fixed_ips(session, [p.id for p in ports])
    opts = load_dhcp_opts(session, [p.id for p in ports])
    enabled = {s.id for s in subnets}
    hosts = [
        {
            "port_id": p.id,
            "mac_address": p.mac_address,
            "ip_address": ip["ip_address"],
            "hostname": _hostname(p, ip["ip_address"]),
            "extra_dhcp_opts": opts.get(p.id, []),
        }
        for p in ports
        if p.device_owner != DHCP_OWNER
        for ip in ips.get(p.id, [])
        if ip["subnet_id"] in enabled
    ]
    return {
        "port": {
            "id": dhcp_port.id,
            "mac_address": dhcp_port.mac_address,
            "fixed_ips": [ip for ip in ips.get(dhcp_port.id, []) if ip["subnet_id"] in enabled],
        },
        "subnets": [
            {
                "id": s.id,
                "cidr": s.cidr,
                "gateway_ip": s.gateway_ip,
                "dns_nameservers": list(s.dns_nameservers or []),
                "host_routes": list(s.host_routes or []),
                "enable_dhcp": s.enable_dhcp,
                "ipv6_ra_mode": s.ipv6_ra_mode,
                "ipv6_address_mode": s.ipv6_address_mode,
            }
            for s in subnets
        ],
        "hosts": hosts,
    }


def _dhcp_subnets(session: Session, network_ids: list[str] | None) -> dict[str, list[Any]]:
    if network_ids == []:
        return defaultdict(list)  # a filtered answer asking for no network answers none
    if network_ids is None:
        rows = session.execute(_DHCP_SUBNETS)
    else:
        rows = session.execute(_DHCP_SUBNETS_OF, {"ids": network_ids})
    result: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        result[row.network_id].append(row)
    return result


def _networks(
    session: Session, config: Config, placement: Candidates, host: str, filters: Filters, needed: set[str]
) -> tuple[list[dict[str, Any]], list[str]]:
    """Networks the host needs (DHCP placed here, or used by its ports/routers) and absent filtered ids."""
    # filtered: only the networks asked for (the agent refetches a router on every floating-IP change; its
    # networks' DHCP hosts would double the answer)
    wanted = None if filters.complete else list(filters.network_ids)
    subnets = _dhcp_subnets(session, wanted)
    placement.prefetch(DHCP, subnets)
    dhcp_here = {net_id for net_id in subnets if placement.runs_on(DHCP, net_id, host)}
    ids = (dhcp_here | needed) if filters.complete else (dhcp_here | needed) & set(wanted or [])
    rows = session.execute(select(Network.__table__).where(Network.id.in_(ids))).all() if ids else []
    networks = []
    for row in rows:
        dhcp = _dhcp_section(session, row.id, subnets[row.id], host) if row.id in dhcp_here else None
        networks.append(
            {
                "id": row.id,
                "name": row.name,
                "admin_state_up": row.admin_state_up,
                "mtu": row.mtu,
                "physical_network": row.physical_network,
                **_wiring(config, row),
                "dhcp": dhcp,
            }
        )
    _add_tunnel_peers(session, placement, host, networks)
    present = {n["id"] for n in networks}
    return networks, [net_id for net_id in filters.network_ids if net_id not in present]


def _add_tunnel_peers(session: Session, placement: Candidates, host: str, networks: list[dict[str, Any]]) -> None:
    """Each vxlan network's ``tunnel_peers``: the other hosts' tunnel endpoints (:mod:`.tunnel_peers`)."""
    vxlan = [n for n in networks if n["network_type"] == "vxlan"]
    if not vxlan:
        return
    found = tunnel_peers.peers(session, placement, host, [n["id"] for n in vxlan])
    for network in vxlan:
        network["tunnel_peers"] = found.get(network["id"], [])


def _routers(
    session: Session, config: Config, placement: Candidates, host: str, filters: Filters
) -> tuple[list[dict[str, Any]], list[str]]:
    if not filters.complete and not filters.router_ids:
        return [], []
    if filters.complete:
        ids = list(session.scalars(select(Router.id)))
    else:
        ids = list(session.scalars(_ROUTER_IDS, {"ids": filters.router_ids}))
    placement.prefetch(ROUTER, ids)
    here = [rid for rid in ids if placement.runs_on(ROUTER, rid, host)]
    routers = router_slice.load(session, config, here, filters.floatingip_ids or None)
    router_slice.attach_ha(session, config, routers, host)
    return routers, [rid for rid in filters.router_ids if rid not in set(here)]


def _router_networks(session: Session, placement: Candidates, host: str, network_ids: list[str]) -> set[str]:
    """Which of ``network_ids`` a router placed on ``host`` has a port on (filtered answers)."""
    if not network_ids:
        return set()
    pairs = session.execute(_ROUTERS_ON, {"ids": network_ids}).all()
    placement.prefetch(ROUTER, [router_id for router_id, _network_id in pairs])
    return {network_id for router_id, network_id in pairs if placement.runs_on(ROUTER, router_id, host)}


def snapshot(session: Session, config: Config, host: str, filters: Filters, down_time: float) -> dict[str, Any]:
    """The state document for ``host`` (see docs/agent-protocol.md)."""
    if session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    seq = latest_seq(session)
    placement = candidates(
        session, down_time, host, on_demand=not filters.complete, per_network=config.dhcp_agents_per_network
    )
    routers, absent_routers = _routers(session, config, placement, host, filters)
    ports, absent_ports = _bound_ports(session, config, host, filters)
    needed = {p["network_id"] for p in ports}
    if not filters.complete:
        needed |= _router_networks(session, placement, host, filters.network_ids)
    for router in routers:
        needed |= {i["network_id"] for i in router["interfaces"]}
        if router["gateway"]:
            needed.add(router["gateway"]["network_id"])
    networks, absent_networks = _networks(session, config, placement, host, filters, needed)
    asked = security_slice.asked_groups(session, filters.security_group_ids, filters.security_group_rule_ids)
    security = security_slice.attach(session, ports, asked)
    absent: dict[str, list[str]] = {"routers": absent_routers, "networks": absent_networks, "ports": absent_ports}
    if filters.security_group_ids or filters.security_group_rule_ids:
        listed = {group["id"] for group in security["groups"]}
        absent["security_groups"] = sorted({g for g in filters.security_group_ids if g not in listed})
    return {
        "seq": seq,
        "host": host,
        "complete": filters.complete,
        "absent": absent,
        "networks": networks,
        "ports": ports,
        "routers": routers,
        "security": security,
    }
