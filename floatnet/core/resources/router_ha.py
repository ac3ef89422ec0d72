"""Highly available routers (Neutron's ``l3-ha``): one keepalived VRRP replica of the router per L3 agent.

What Neutron stores, floatnet stores, with Neutron's names and rules:

* **The HA network.** A project's first HA router creates its HA network ``HA network project <project>``
  (a tenant network, allocated like any other) with one subnet ``HA subnet project <project>`` on
  ``[DEFAULT] l3_ha_net_cidr`` (169.254.192.0/18; no DHCP, no gateway). Both belong to no project (``''``), so the
  project never sees them while an admin does, as in Neutron; the network goes when the project's last HA router
  goes or stops being HA.
* **The VRRP id** (``routers.ha_vr_id``): the lowest of 1..254 free on that network (``NoVRIDAvailable``, 409,
  past 254 HA routers per project).
* **Replicas**: one per L3 agent running the router, each with its HA port and VRRP state — placed and
  reported by :mod:`floatnet.core.resources.router_ha_replicas`.
* **Conversion** to or from HA only while the router is down (``admin_state_up: false`` in the stored router or
  in the same request): Neutron's 400 ``BadRequest``. It retypes the router's interface ports: an HA router's
  are ``network:ha_router_replicated_interface``, as Neutron's.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.agent_protocol import changes
from floatnet.core.context import RequestContext
from floatnet.core.errors import BadRequest
from floatnet.core.l3_errors import NoVRIDAvailable
from floatnet.core.resources import networks
from floatnet.core.resources import router_ha_replicas as replicas
from floatnet.core.resources.device_owners import ROUTER_INTERFACE, interface_owner
from floatnet.core.service import Core
from floatnet.core.validation import validate
from floatnet.db.models import (
    HARouterAgentPortBinding,
    HARouterNetwork,
    HARouterVRIdAllocation,
    Network,
    Port,
    Router,
    RouterL3AgentBinding,
    RouterPort,
    Subnet,
    new_id,
    utcnow,
)

VR_IDS = range(1, 255)
NETWORK_NAME, SUBNET_NAME = "HA network project %s", "HA subnet project %s"
CONVERT_WHILE_UP = (
    "Cannot change HA attribute of active routers. Please set router admin_state_up to False prior to upgrade"
)


def requested(config: Config, attrs: dict[str, Any]) -> bool:
    """Whether a new router is HA: the request's ``ha``, else ``[DEFAULT] l3_ha``."""
    value = attrs.get("ha")
    return config.l3_ha if value is None else bool(value)


def check_conversion(router: Router, attrs: dict[str, Any]) -> bool:
    """Whether an update changes ``ha``; 400 when it would while the router is up (stored or requested)."""
    wanted = attrs.get("ha")
    if wanted is None or wanted == router.ha:
        return False
    if attrs.get("admin_state_up", router.admin_state_up):
        raise BadRequest(resource="router", msg=CONVERT_WHILE_UP)
    return True


def _ha_network(session: Session, core: Core, project: str) -> Network:
    """The project's HA network, created with its subnet on first use."""
    row = session.get(HARouterNetwork, project)
    if row is not None:
        return session.get_one(Network, row.network_id)
    attrs = validate("network", networks.SPEC, {"name": NETWORK_NAME % project}, creating=True)
    network_id = networks.NetworkService(core).create_in(session, "", attrs)["id"]
    _create_subnet(session, core.config.l3_ha_net_cidr, network_id, project)
    session.add(HARouterNetwork(project_id=project, network_id=network_id))
    session.flush()
    return session.get_one(Network, network_id)


def _create_subnet(session: Session, cidr: str, network_id: str, project: str) -> None:
    """The HA subnet: the whole CIDR for replicas' addresses, no gateway, no DHCP (as Neutron's)."""
    net = ipaddress.IPv4Network(cidr)
    now = utcnow()
    subnet = Subnet(
        id=new_id(), project_id="", network_id=network_id, name=SUBNET_NAME % project, description="",
        ip_version=4, cidr=str(net), gateway_ip=None, enable_dhcp=False, dns_nameservers=[], host_routes=[],
        allocation_pools=[{"start": str(net[1]), "end": str(net[-2])}], status="ACTIVE",
        created_at=now, updated_at=now,
    )  # fmt: skip
    session.add(subnet)
    session.flush()
    changes.created(session, "subnet", subnet.id, network_id=network_id)


def _allocate_vr_id(session: Session, network_id: str, router_id: str) -> int:
    taken = set(
        session.scalars(select(HARouterVRIdAllocation.vr_id).where(HARouterVRIdAllocation.network_id == network_id))
    )
    vr_id = next((value for value in VR_IDS if value not in taken), None)
    if vr_id is None:
        raise NoVRIDAvailable(router_id=router_id)
    session.add(HARouterVRIdAllocation(network_id=network_id, vr_id=vr_id))
    return vr_id


def enable(session: Session, core: Core, router: Router) -> None:
    """Make ``router`` HA: its project's HA network, a VRRP id, replicas on the alive L3 agents (its single-agent
    binding, if any, goes: placement is the replicas now)."""
    network = _ha_network(session, core, router.project_id)
    router.ha, router.ha_vr_id = True, _allocate_vr_id(session, network.id, router.id)
    session.execute(delete(RouterL3AgentBinding).where(RouterL3AgentBinding.router_id == router.id))
    session.flush()
    replicas.place(session, core, router, network, replicas.alive(session, core.config))
    _retype_interfaces(session, router)


def disable(session: Session, core: Core, router: Router) -> None:
    """Undo :func:`enable` (also before a router is deleted): replicas, VRRP id, and the HA network when it was
    the project's last HA router."""
    network = session.get(HARouterNetwork, router.project_id)
    for binding in list(
        session.scalars(select(HARouterAgentPortBinding).where(HARouterAgentPortBinding.router_id == router.id))
    ):
        replicas.drop_replica(session, binding)
    if network is not None and router.ha_vr_id is not None:
        session.execute(
            delete(HARouterVRIdAllocation).where(
                HARouterVRIdAllocation.network_id == network.network_id, HARouterVRIdAllocation.vr_id == router.ha_vr_id
            )
        )
    router.ha, router.ha_vr_id = False, None
    session.flush()
    _retype_interfaces(session, router)
    others = select(Router.id).where(
        Router.project_id == router.project_id, Router.ha.is_(True), Router.id != router.id
    )
    if network is not None and session.scalar(others.limit(1)) is None:
        network_id = network.network_id
        session.delete(network)
        networks.NetworkService(core).delete_in(session, RequestContext.admin(), network_id)


def _retype_interfaces(session: Session, router: Router) -> None:
    """Give the router's interface ports the ``device_owner`` it now calls for (Neutron's
    ``_migrate_router_ports`` on an HA conversion: ``network:router_interface`` <->
    ``network:ha_router_replicated_interface``), each a logged port update. floatnet's ``routerports.port_type``
    keeps saying interface either way: it is the kind of router port, the owner is what the API shows."""
    owner = interface_owner(router)
    rows = session.execute(
        select(Port.id, Port.network_id)
        .join(RouterPort, RouterPort.port_id == Port.id)
        .where(RouterPort.router_id == router.id, RouterPort.port_type == ROUTER_INTERFACE, Port.device_owner != owner)
    ).all()
    for row in rows:
        values = {"device_owner": owner}
        changes.updated_where(session, "port", Port, row.id, values, router_id=router.id, network_id=row.network_id)
