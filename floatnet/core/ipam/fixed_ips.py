"""A port's fixed IPs: turn a ``fixed_ips`` request into allocations, as Neutron does.

* no ``fixed_ips`` → one address from the IPv4 subnets and one from the stateful IPv6 subnets (each from
  the first subnet of its group with room);
* ``[]`` → no address;
* ``{"subnet_id"}`` → any free address of that subnet; ``{"ip_address"}`` → that address, on whichever
  subnet of the network holds it; both → that address, which must belong to that subnet;
* and in every case the port's EUI-64 address on each SLAAC / DHCPv6-stateless subnet
  (:mod:`floatnet.core.ipam.ipv6`; not for router interfaces, which take the gateway). An update keeps those
  automatic addresses even when the new ``fixed_ips`` do not list them.

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
from floatnet.core.ipam import ipv6, pools
from floatnet.core.validation import dict_with, ip_address, list_of, to_uuid
from floatnet.db.models import IPAllocation, Port, Subnet, table_of
from floatnet.db.session import insert_row

ROUTER_OWNERS = (*ipv6.ROUTER_INTERFACE_OWNERS, "network:router_gateway")

convert_request = list_of(dict_with({"subnet_id": to_uuid, "ip_address": ip_address}))


SUBNETS = table_of(Subnet)
SUBNET_COLUMNS = [SUBNETS.c.id, SUBNETS.c.network_id, SUBNETS.c.cidr, SUBNETS.c.ip_version]
SUBNET_COLUMNS += [
    SUBNETS.c.gateway_ip,
    SUBNETS.c.allocation_pools,
    SUBNETS.c.ipv6_ra_mode,
    SUBNETS.c.ipv6_address_mode,
]
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
    insert_row(session, INSERT_ALLOCATION, values)
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


def add_address(session: Session, port_id: str, subnet: Any, address: str) -> dict[str, str]:
    """Record ``address`` for the port (``IpAddressAlreadyAllocated``, 409, when the network has it already)."""
    if pools.is_allocated(session, subnet.network_id, address):
        raise IpAddressAlreadyAllocated(ip=address, subnet_id=subnet.id)
    return _add(session, port_id, subnet, address)


def _specific(session: Session, port_id: str, subnet: Any, address: str, owner: str) -> dict[str, str]:
    if address == subnet.gateway_ip and owner not in ROUTER_OWNERS:
        raise IpAddressAlreadyAllocated(ip=address, subnet_id=subnet.id)
    return add_address(session, port_id, subnet, address)


def _defaults(session: Session, hints: dict[str, int], port_id: str, subnets: list[Any]) -> list[dict[str, str]]:
    """No ``fixed_ips`` asked: one address from the IPv4 subnets and one from the stateful IPv6 subnets, each
    from the first subnet of its group with room (Neutron's per-version groups)."""
    result = []
    groups = (
        [s for s in subnets if s.ip_version == 4],
        [s for s in subnets if s.ip_version == 6 and not ipv6.is_auto(s)],
    )
    for group in (g for g in groups if g):
        for subnet in group:
            address = pools.next_free(session, hints, subnet)
            if address is not None:
                result.append(_add(session, port_id, subnet, address))
                break
        else:
            raise IpAddressGenerationFailure(net_id=group[0].network_id)
    return result


def _mac(session: Session, port_id: str) -> str:
    return str(session.scalar(select(Port.mac_address).where(Port.id == port_id)))


def _requested(
    session: Session, hints: dict[str, int], port_id: str, subnets: list[Any], network_id: str,
    requested: list[dict[str, str]], owner: str,
) -> list[dict[str, str]]:  # fmt: skip
    """The asked addresses; on an auto-address subnet an ordinary port gets its EUI-64 address only."""
    seen = [entry["ip_address"] for entry in requested if "ip_address" in entry]
    if len(seen) != len(set(seen)):
        raise InvalidInput(error_message="Duplicate IP address in fixed_ips")
    interface = owner in ipv6.ROUTER_INTERFACE_OWNERS
    result = []
    for entry in requested:
        if not entry:
            raise InvalidInput(error_message="fixed_ips entries need subnet_id and/or ip_address")
        subnet = _subnet_for(subnets, network_id, entry)
        auto = ipv6.is_auto(subnet) and not interface
        if "ip_address" in entry:
            if auto and entry["ip_address"] != ipv6.eui64(subnet.cidr, _mac(session, port_id)):
                raise ipv6.AllocationOnAutoAddressSubnet(ip=entry["ip_address"], subnet_id=subnet.id)
            result.append(_specific(session, port_id, subnet, entry["ip_address"], owner))
        elif not auto:
            result.append(_auto(session, hints, port_id, subnet))
    return result


def _eui64_addresses(
    session: Session, port_id: str, subnets: list[Any], owner: str, present: set[str]
) -> list[dict[str, str]]:
    """The port's EUI-64 address on each auto-address subnet it has none on (never for router interfaces)."""
    wanted = [s for s in subnets if ipv6.is_auto(s) and s.id not in present]
    if not wanted or owner in ipv6.ROUTER_INTERFACE_OWNERS:
        return []
    mac = _mac(session, port_id)
    return [add_address(session, port_id, s, ipv6.eui64(s.cidr, mac)) for s in wanted]


def allocate(
    session: Session,
    hints: dict[str, int],
    port_id: str,
    network_id: str,
    requested: list[dict[str, str]] | None,
    owner: str,
    present: frozenset[str] = frozenset(),
) -> list[dict[str, str]]:
    """Allocate the port's fixed IPs (see the module docstring); returns ``[{subnet_id, ip_address}]``.

    ``present``: subnets the port already has an address on (an update keeps them), so no EUI-64 address is
    added there."""
    subnets = network_subnets(session, network_id)
    if requested is None:
        result = _defaults(session, hints, port_id, subnets)
    else:
        result = _requested(session, hints, port_id, subnets, network_id, requested, owner)
    handled = set(present) | {ip["subnet_id"] for ip in result}
    return result + _eui64_addresses(session, port_id, subnets, owner, handled)


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
    retained = set() if owner in ipv6.ROUTER_INTERFACE_OWNERS else auto_subnet_ids(session, network_id)
    for old in existing:
        if old in kept:
            continue
        if old["subnet_id"] in retained:  # an automatic address stays unless its subnet goes (Neutron)
            kept.append(old)
            continue
        session.execute(
            delete(IPAllocation).where(IPAllocation.port_id == port_id, IPAllocation.ip_address == old["ip_address"])
        )
    present = frozenset(ip["subnet_id"] for ip in kept)
    return kept + allocate(session, hints, port_id, network_id, new, owner, present)


def follow_mac(session: Session, port_id: str, network_id: str, mac: str, owner: str) -> None:
    """After a MAC change, the port's automatic addresses become the new MAC's EUI-64 ones (as Neutron
    re-allocates them); router interfaces hold none."""
    if owner in ipv6.ROUTER_INTERFACE_OWNERS:
        return
    auto = {s.id: s for s in network_subnets(session, network_id) if ipv6.is_auto(s)}
    for ip in current(session, port_id):
        subnet = auto.get(ip["subnet_id"])
        if subnet is not None:
            session.execute(
                delete(IPAllocation).where(IPAllocation.port_id == port_id, IPAllocation.ip_address == ip["ip_address"])
            )
            add_address(session, port_id, subnet, ipv6.eui64(subnet.cidr, mac))


def auto_subnet_ids(session: Session, network_id: str) -> set[str]:
    """The network's auto-address (SLAAC / DHCPv6-stateless) subnets."""
    return {s.id for s in network_subnets(session, network_id) if ipv6.is_auto(s)}
