"""Ports the L3 service owns: router interfaces, router gateways and floating IP ports.

They are ordinary ``ports`` rows made by :func:`floatnet.core.resources.ports.new_port` inside the caller's transaction
(so IPAM's guarantees hold, the change feed logs them, and ``port list`` shows them as Neutron does); this
module only adds what the L3 code needs around that: the owners' names (defined with the device rules in
:mod:`floatnet.core.resources.device_owners`) and batched address lookups.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.core.errors import NetworkNotFound
from floatnet.core.resources.device_owners import FLOATINGIP, ROUTER_GATEWAY, ROUTER_INTERFACE
from floatnet.core.resources.ports import create_port, delete_port_in
from floatnet.core.service import Core
from floatnet.db.models import IPAllocation, Network, Port

__all__ = ["FLOATINGIP", "ROUTER_GATEWAY", "ROUTER_INTERFACE", "addresses", "create", "network_of", "remove"]


def create(
    session: Session,
    core: Core,
    network: Any,
    project_id: str,
    owner: str,
    device_id: str,
    requested: list[dict[str, str]] | None,
) -> tuple[str, list[dict[str, str]]]:
    """Create an L3-owned port on ``network`` (a Network or a row of its columns) with its fixed IPs
    (``requested`` as in a port's ``fixed_ips``; None: one automatic address); returns its id and IPs."""
    attrs: dict[str, Any] = {"device_owner": owner, "device_id": device_id}
    if requested is not None:
        attrs["fixed_ips"] = requested
    values, ips, _ = create_port(session, core, project_id, attrs, network)
    return str(values["id"]), ips


def network_of(session: Session, network_id: str) -> Network:
    """The network row (it exists: callers hold a port or subnet on it)."""
    network = session.get(Network, network_id)
    if network is None:
        raise NetworkNotFound(net_id=network_id)
    return network


def remove(session: Session, port_id: str) -> None:
    """Delete an L3-owned port (its addresses go with it); the ports module logs the deletion."""
    port = session.get(Port, port_id)
    if port is not None:
        delete_port_in(session, port)


def addresses(session: Session, port_ids: list[str]) -> dict[str, list[dict[str, str]]]:
    """Fixed IPs of many ports in one query (``{port_id: [{subnet_id, ip_address}]}``)."""
    result: dict[str, list[dict[str, str]]] = {port_id: [] for port_id in port_ids}
    rows = session.execute(
        select(IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address)
        .where(IPAllocation.port_id.in_(port_ids))
        .order_by(IPAllocation.port_id, IPAllocation.ip_address)
    )
    for port_id, subnet_id, ip_address in rows:
        result[port_id].append({"subnet_id": subnet_id, "ip_address": ip_address})
    return result
