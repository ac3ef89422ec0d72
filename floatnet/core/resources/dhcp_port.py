"""The DHCP port of a network, kept in step with its DHCP-enabled subnets (as Neutron's DHCP agent does).

A network with at least one ``enable_dhcp`` subnet has one port with ``device_owner network:dhcp`` and one
address on each such subnet (the first free one, so usually ``.2``). Its ``device_id`` does not depend on the
host that serves it (``dhcp<uuid5>-<network_id>``), because scheduling may move it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.core.agent_protocol import changes
from floatnet.core.ipam import fixed_ips
from floatnet.core.resources.ports import delete_port_in, new_port
from floatnet.core.service import Core
from floatnet.db.models import Network, Port, Subnet

OWNER = "network:dhcp"
DEVICE_PREFIX = f"dhcp{uuid.uuid5(uuid.NAMESPACE_DNS, 'floatnet.dhcp')}"


def device_id(network_id: str) -> str:
    """The DHCP port's ``device_id`` on ``network_id``."""
    return f"{DEVICE_PREFIX}-{network_id}"


def dhcp_port(session: Session, network_id: str) -> Port | None:
    """The network's DHCP port, if any."""
    stmt = select(Port).where(Port.network_id == network_id, Port.device_owner == OWNER).order_by(Port.id)
    return session.scalars(stmt).first()


def sync(session: Session, core: Core, network: Network) -> None:
    """Create, readdress or delete the network's DHCP port to match its DHCP-enabled subnets."""
    subnet_ids = list(
        session.scalars(
            select(Subnet.id)
            .where(Subnet.network_id == network.id, Subnet.enable_dhcp.is_(True))
            .order_by(Subnet.created_at, Subnet.id)
        )
    )
    port = dhcp_port(session, network.id)
    if not subnet_ids:
        if port is not None:
            delete_port_in(session, port)
        return
    if port is None:
        attrs = {
            "device_owner": OWNER,
            "device_id": device_id(network.id),
            "fixed_ips": [{"subnet_id": subnet_id} for subnet_id in subnet_ids],
        }
        new_port(session, core, network.project_id, attrs, network)
        return
    current = fixed_ips.current(session, port.id)
    wanted = [ip for ip in current if ip["subnet_id"] in subnet_ids]
    have = {ip["subnet_id"] for ip in wanted}
    wanted += [{"subnet_id": subnet_id} for subnet_id in subnet_ids if subnet_id not in have]
    if len(wanted) != len(current) or have != {ip["subnet_id"] for ip in current}:
        fixed_ips.replace(session, core.ipam_hints, port.id, network.id, wanted, OWNER)
        changes.updated(session, "port", port, network_id=network.id)
