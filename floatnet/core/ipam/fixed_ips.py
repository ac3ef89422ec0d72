"""A port's fixed IPs: turn a ``fixed_ips`` request into allocations, as Neutron does.

* no ``fixed_ips`` → one address from the first IPv4 subnet with room (else the first IPv6 one);
* ``[]`` → no address;
* ``{"subnet_id"}`` → any free address of that subnet; ``{"ip_address"}`` → that address, on whichever
  subnet of the network holds it; both → that address, which must belong to that subnet.

Allocation rows are written as they are chosen, so several requests in one port never collide; a taken
address is ``IpAddressAlreadyAllocated``, an exhausted pool ``IpAddressGenerationFailure`` (both 409).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session

from floatnet.core.errors import (
    InvalidInput,
    InvalidIpForNetwork,
    InvalidIpForSubnet,
    IpAddressAlreadyAllocated,
    IpAddressGenerationFailure,
)
from floatnet.core.ipam import pools
from floatnet.core.validation import dict_with, ip_address, list_of, to_uuid
from floatnet.db.models import IPAllocation, Subnet, table_of

ROUTER_OWNERS = ("network:router_interface", "network:router_gateway", "network:router_interface_distributed")

convert_request = list_of(dict_with({"subnet_id": to_uuid, "ip_address": ip_address}))


SUBNETS = table_of(Subnet)
SUBNET_COLUMNS = [SUBNETS.c.id, SUBNETS.c.network_id, SUBNETS.c.cidr, SUBNETS.c.ip_version]
SUBNET_COLUMNS += [SUBNETS.c.gateway_ip, SUBNETS.c.allocation_pools]
SUBNETS_OF_NETWORK = (
    select(*SUBNET_COLUMNS)
    .where(SUBNETS.c.network_id == bindparam("network_id"))
    .order_by(SUBNETS.c.created_at, SUBNETS.c.id)
)
INSERT_ALLOCATION = insert(table_of(IPAllocation))


def network_subnets(session: Session, network_id: str) -> list[Any]:
    """The network's subnets (rows with id, network_id, cidr, ip_version, gateway_ip, allocation_pools)."""
    return list(session.connection().execute(SUBNETS_OF_NETWORK, {"network_id": network_id}))


def _add(session: Session, port_id: str, subnet: Any, address: str) -> dict[str, str]:
    values = {
        "port_id": port_id,
        "subnet_id": subnet.id,
        "network_id": subnet.network_id,
        "ip_address": address,
    }
    session.connection().execute(INSERT_ALLOCATION, values)
    return {"subnet_id": subnet.id, "ip_address": address}


def _auto(session: Session, hints: dict[str, int], port_id: str, subnet: Any) -> dict[str, str]:
    address = pools.next_free(session, hints, subnet)
    if address is None:
        raise IpAddressGenerationFailure(net_id=subnet.network_id)
    return _add(session, port_id, subnet, address)


def _subnet_for(subnets: list[Any], network_id: str, entry: dict[str, str]) -> Any:
    if "subnet_id" in entry:
        found = next((s for s in subnets if s.id == entry["subnet_id"]), None)
        if found is None:
            raise InvalidInput(
                error_message=f"Failed to create port on network {network_id}, "
                f"because fixed_ips included invalid subnet {entry['subnet_id']}"
            )
        if "ip_address" in entry and not pools.in_subnet(found, entry["ip_address"]):
            raise InvalidIpForSubnet(ip_address=entry["ip_address"])
        return found
    found = next((s for s in subnets if pools.in_subnet(s, entry["ip_address"])), None)
    if found is None:
        raise InvalidIpForNetwork(ip_address=entry["ip_address"])
    return found


def _specific(session: Session, port_id: str, subnet: Any, address: str, owner: str) -> dict[str, str]:
    if (address == subnet.gateway_ip and owner not in ROUTER_OWNERS) or pools.is_allocated(
        session, subnet.network_id, address
    ):
        raise IpAddressAlreadyAllocated(ip=address, subnet_id=subnet.id)
    return _add(session, port_id, subnet, address)


def allocate(
    session: Session,
    hints: dict[str, int],
    port_id: str,
    network_id: str,
    requested: list[dict[str, str]] | None,
    owner: str,
) -> list[dict[str, str]]:
    """Allocate the port's fixed IPs (see the module docstring); returns ``[{subnet_id, ip_address}]``."""
    subnets = network_subnets(session, network_id)
    if requested is None:
        ordered = [s for s in subnets if s.ip_version == 4] or subnets
        for subnet in ordered:
            address = pools.next_free(session, hints, subnet)
            if address is not None:
                return [_add(session, port_id, subnet, address)]
        if ordered:
            raise IpAddressGenerationFailure(net_id=network_id)
        return []
    seen = [entry["ip_address"] for entry in requested if "ip_address" in entry]
    if len(seen) != len(set(seen)):
        raise InvalidInput(error_message="Duplicate IP address in fixed_ips")
    result = []
    for entry in requested:
        if not entry:
            raise InvalidInput(error_message="fixed_ips entries need subnet_id and/or ip_address")
        subnet = _subnet_for(subnets, network_id, entry)
        if "ip_address" in entry:
            result.append(_specific(session, port_id, subnet, entry["ip_address"], owner))
        else:
            result.append(_auto(session, hints, port_id, subnet))
    return result


def current(session: Session, port_id: str) -> list[dict[str, str]]:
    """The port's fixed IPs."""
    rows = session.execute(
        select(IPAllocation.subnet_id, IPAllocation.ip_address).where(IPAllocation.port_id == port_id)
    )
    return [{"subnet_id": subnet_id, "ip_address": address} for subnet_id, address in rows]


def _keep(existing: list[dict[str, str]], requested: list[dict[str, str]]) -> tuple[list[Any], list[Any]]:
    """Split a replacement request into entries already satisfied by ``existing`` and new ones."""
    free = list(existing)
    kept, new = [], []
    for entry in requested:
        match = next(
            (
                old
                for old in free
                if entry.get("subnet_id", old["subnet_id"]) == old["subnet_id"]
                and entry.get("ip_address", old["ip_address"]) == old["ip_address"]
            ),
            None,
        )
        if match is None:
            new.append(entry)
        else:
            free.remove(match)
            kept.append(match)
    return kept, new


def replace(
    session: Session,
    hints: dict[str, int],
    port_id: str,
    network_id: str,
    requested: list[dict[str, str]],
    owner: str,
) -> list[dict[str, str]]:
    """Make the port's fixed IPs match ``requested`` (update): keep matching ones, free and add the rest."""
    existing = current(session, port_id)
    kept, new = _keep(existing, requested)
    for old in existing:
        if old not in kept:
            session.execute(
                delete(IPAllocation).where(
                    IPAllocation.port_id == port_id, IPAllocation.ip_address == old["ip_address"]
                )
            )
    return kept + allocate(session, hints, port_id, network_id, new, owner)
