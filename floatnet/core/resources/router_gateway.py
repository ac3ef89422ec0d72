"""A router's external gateway (``external_gateway_info``, with ext-gw-mode's ``enable_snat``).

Setting a gateway creates the router's ``network:router_gateway`` port on a ``router:external`` network with
an address from its pools (or the ones asked in ``external_fixed_ips``) — with no address at all when the
network has no subnet, as Neutron does (the agents' router slice then has no gateway: nothing to address or
SNAT through); clearing it or moving it to another network deletes that port, refused with 409
``RouterExternalGatewayInUseByFloatingIp`` while floating IPs reach their fixed IPs through this router.
Choosing SNAT and fixed gateway addresses is for admins (as in Neutron's default policy;
:mod:`floatnet.core.resources.routers` checks the `external_gateway_info` rules).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from floatnet.core.agent_protocol import changes
from floatnet.core.context import RequestContext
from floatnet.core.errors import BadRequest
from floatnet.core.ipam import fixed_ips
from floatnet.core.l3_errors import RouterExternalGatewayInUseByFloatingIp
from floatnet.core.resources.router_owned_ports import ROUTER_GATEWAY, addresses, create, remove
from floatnet.core.resources.scoped_rows import get_network
from floatnet.core.service import Core
from floatnet.core.validation import dict_with, ip_address, list_of, to_bool, to_uuid
from floatnet.db.models import FloatingIP, Port, Router, RouterPort

_convert = dict_with(
    {
        "network_id": to_uuid,
        "enable_snat": to_bool,
        "external_fixed_ips": list_of(dict_with({"subnet_id": to_uuid, "ip_address": ip_address})),
    },
    required=("network_id",),
)


def convert_info(value: Any) -> dict[str, Any] | None:
    """``None`` or ``{}`` clears the gateway; else a checked dict (network_id, enable_snat, fixed IPs)."""
    if value is None or value == {}:
        return None
    return _convert(value)


def gateway_network(session: Session, router: Router) -> str | None:
    """The network of the router's gateway port, if it has one."""
    if not router.gw_port_id:
        return None
    return session.scalar(select(Port.network_id).where(Port.id == router.gw_port_id))


def ensure_unused(session: Session, router: Router, network_id: str) -> None:
    """409 when floating IPs go through this router's gateway."""
    used = session.scalar(
        select(FloatingIP.id).where(FloatingIP.router_id == router.id, FloatingIP.floating_network_id == network_id)
    )
    if used is not None:
        raise RouterExternalGatewayInUseByFloatingIp(router_id=router.id, net_id=network_id)


def clear(session: Session, router: Router) -> None:
    """Remove the gateway port (callers check floating IPs first)."""
    port_id, network_id = router.gw_port_id, gateway_network(session, router)
    if port_id is None or network_id is None:
        return
    router.gw_port_id = None
    session.flush()
    remove(session, port_id)


def _create(session: Session, core: Core, router: Router, network: Any, info: dict[str, Any]) -> None:
    requested = info.get("external_fixed_ips") or None
    port_id, _ = create(session, core, network, "", ROUTER_GATEWAY, router.id, requested)
    session.execute(insert(RouterPort).values(router_id=router.id, port_id=port_id, port_type=ROUTER_GATEWAY))
    router.gw_port_id = port_id


def _satisfied(current: list[dict[str, str]], wanted: list[dict[str, str]]) -> bool:
    """Whether the gateway already has exactly the addresses ``wanted`` asks for."""
    if len(current) != len(wanted):
        return False
    return all(any(all(old.get(k) == v for k, v in entry.items()) for old in current) for entry in wanted)


def _refresh_ips(session: Session, core: Core, router: Router, network_id: str, wanted: list[dict[str, str]]) -> None:
    port_id = router.gw_port_id
    assert port_id is not None
    if _satisfied(addresses(session, [port_id])[port_id], wanted):
        return
    fixed_ips.replace(session, core.ipam_hints, port_id, network_id, wanted, ROUTER_GATEWAY)
    changes.updated_where(session, "port", Port, port_id, router_id=router.id, network_id=network_id)


def update(session: Session, core: Core, ctx: RequestContext, router: Router, info: dict[str, Any] | None) -> None:
    """Set, change or clear the router's gateway as ``info`` says (see the module docstring)."""
    current = gateway_network(session, router)
    if info is None:
        if current is not None:
            ensure_unused(session, router, current)
            clear(session, router)
        router.enable_snat = True
        return
    network = get_network(session, ctx, info["network_id"])
    if not network.external:
        raise BadRequest(resource="router", msg=f"Network {network.id} is not an external network")
    router.enable_snat = info.get("enable_snat", True)
    if current == network.id:
        if info.get("external_fixed_ips"):
            _refresh_ips(session, core, router, network.id, info["external_fixed_ips"])
        return
    if current is not None:
        ensure_unused(session, router, current)
        clear(session, router)
    _create(session, core, router, network, info)
