"""HA routers' ports follow the active replica (l3-ha, issue 15), as Neutron's ``l3_hamode_db`` does when an
L3 agent reports its routers' ``ha_state`` (``update_routers_states`` → ``_update_router_port_bindings``).

Every replica of an HA router wires the same interface and gateway ports (same MACs); only the active one
answers for them. When the agent on a host reports a replica ``active``, the router's ports of the owners in
:data:`FOLLOWING` get ``binding:host_id`` = that host (``binding:vif_type``/``vif_details`` recomputed for it),
so the API says where the router's traffic is served, as Neutron's does. A ``standby`` report changes nothing,
and with no active replica at all (every agent dead) the ports stay bound to the last active host, as in
Neutron. The replicas' own HA ports (``network:router_ha_interface``) stay bound to their replica's host.

A re-bound port is an update (revision + 1, logged for the router's agents, whose plans do not depend on it).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.agent_protocol import changes, port_binding
from floatnet.db.models import Network, Port

# Neutron's DEVICE_OWNER_HA_REPLICATED_INT, DEVICE_OWNER_ROUTER_SNAT, DEVICE_OWNER_ROUTER_GW
FOLLOWING = (
    "network:ha_router_replicated_interface",
    "network:router_centralized_snat",
    "network:router_gateway",
)


def follow_active(session: Session, config: Config, host: str, router_ids: list[str]) -> int:
    """Bind the :data:`FOLLOWING` ports of ``router_ids`` (HA routers whose replica on ``host`` reported
    ``active``) to ``host``; how many moved."""
    if not router_ids:
        return 0
    ports = session.scalars(
        select(Port).where(
            Port.device_id.in_(router_ids), Port.device_owner.in_(FOLLOWING), Port.binding_host_id != host
        )
    ).all()
    for port in ports:
        was_on = port.binding_host_id
        network = session.get(Network, port.network_id)
        port.binding_host_id = host
        port.binding_vif_type, port.binding_vif_details = port_binding.vif(session, config, network, host)
        changes.updated(session, "port", port, router_id=port.device_id, network_id=port.network_id, hosts=[was_on])
    return len(ports)
