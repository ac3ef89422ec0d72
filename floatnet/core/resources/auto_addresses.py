"""Automatic IPv6 addresses follow their subnet: added to the network's ports when a SLAAC or
DHCPv6-stateless subnet appears, removed from them when it goes (Neutron's ``add_auto_addrs_on_network_ports``
and ``_remove_subnet_ip_allocations_from_ports``).

Every port of the network except router interfaces (which hold the gateway, and only when attached) gets its
EUI-64 address on the new subnet; deleting an auto-address subnet is refused only while a router interface
is on it (409 ``SubnetInUse``), other ports simply lose that address. Each port whose addresses changed is
logged so the agents refresh it.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from floatnet.core.agent_protocol import changes
from floatnet.core.errors import SubnetInUse
from floatnet.core.ipam import fixed_ips, ipv6
from floatnet.core.resources.ports import router_of
from floatnet.db.models import IPAllocation, Port, Subnet


def _logged(session: Session, port_id: str, network_id: str) -> None:
    changes.updated_where(session, "port", Port, port_id, router_id=router_of(session, port_id), network_id=network_id)


def on_created(session: Session, subnet: Subnet) -> None:
    """Give the network's ports their EUI-64 address on ``subnet`` when it is an auto-address subnet."""
    if not ipv6.is_auto(subnet):
        return
    [row] = [s for s in fixed_ips.network_subnets(session, subnet.network_id) if s.id == subnet.id]
    ports = session.execute(
        select(Port.id, Port.mac_address).where(
            Port.network_id == subnet.network_id, Port.device_owner.not_in(ipv6.ROUTER_INTERFACE_OWNERS)
        )
    ).all()
    for port_id, mac in ports:
        fixed_ips.add_address(session, port_id, row, ipv6.eui64(subnet.cidr, mac))
        _logged(session, port_id, subnet.network_id)


def on_delete(session: Session, subnet: Subnet) -> None:
    """Before ``subnet`` is deleted: 409 while router interfaces use it; else drop the ports' automatic
    addresses on it (non-auto subnets: the caller's in-use rules apply)."""
    if not ipv6.is_auto(subnet):
        return
    holders = session.execute(
        select(IPAllocation.port_id, Port.device_owner)
        .join(Port, Port.id == IPAllocation.port_id)
        .where(IPAllocation.subnet_id == subnet.id)
    ).all()
    if any(owner in ipv6.ROUTER_INTERFACE_OWNERS for _, owner in holders):
        raise SubnetInUse(subnet_id=subnet.id)
    session.execute(delete(IPAllocation).where(IPAllocation.subnet_id == subnet.id))
    for port_id, _ in holders:
        _logged(session, port_id, subnet.network_id)
