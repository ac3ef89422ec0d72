"""The database schema: every table floatnet stores, as SQLAlchemy 2 typed declarative models.

This module is the agreed schema (see the project's models document); the single Alembic migration
``0001_initial`` is kept equal to it and a test compares the two. Rows hold plain column values only —
relationships are deliberately not mapped, so every query states what it loads (no hidden N+1 lazy loads).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    """A fresh resource id (UUID4 text, like Neutron's)."""
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """Now in UTC without tzinfo. Microseconds are kept so rows order by creation; renderers cut them."""
    return datetime.now(UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base with deterministic constraint names (needed for migrations on every backend)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class StandardAttrs:
    """The attributes every Neutron resource carries (id, project, name, status, revision, times)."""

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(255), index=True, default="")
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    revision_number: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Tag(Base):
    """A tag on any resource (standard-attr-tag)."""

    __tablename__ = "tags"
    resource_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tag: Mapped[str] = mapped_column(String(255), primary_key=True)
    __table_args__ = (Index("ix_tags_resource_type_tag", "resource_type", "tag"),)


class Network(StandardAttrs, Base):
    """An L2 network and its one segment (provider attributes)."""

    __tablename__ = "networks"
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    external: Mapped[bool] = mapped_column(Boolean, default=False)
    mtu: Mapped[int] = mapped_column(Integer, default=1500)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    network_type: Mapped[str] = mapped_column(String(32), default="")
    physical_network: Mapped[str | None] = mapped_column(String(64), nullable=True)
    segmentation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    availability_zone_hints: Mapped[list[Any]] = mapped_column(JSON, default=list)
    dns_domain: Mapped[str] = mapped_column(String(255), default="")


class SegmentAllocation(Base):
    """One row per used segment: the key makes a VLAN id / flat physnet / VNI belong to one network."""

    __tablename__ = "segment_allocations"
    network_type: Mapped[str] = mapped_column(String(32), primary_key=True)
    physical_network: Mapped[str] = mapped_column(String(64), primary_key=True)
    segmentation_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network_id: Mapped[str] = mapped_column(String(36), ForeignKey("networks.id", ondelete="CASCADE"), index=True)


class Subnet(StandardAttrs, Base):
    """An IP subnet of a network, with its pools, gateway and DHCP options."""

    __tablename__ = "subnets"
    network_id: Mapped[str] = mapped_column(String(36), ForeignKey("networks.id"), index=True)
    ip_version: Mapped[int] = mapped_column(Integer, default=4)
    cidr: Mapped[str] = mapped_column(String(64))
    gateway_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    dns_nameservers: Mapped[list[Any]] = mapped_column(JSON, default=list)
    host_routes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    allocation_pools: Mapped[list[Any]] = mapped_column(JSON, default=list)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ipv6_address_mode: Mapped[str | None] = mapped_column(String(32), nullable=True)
    subnetpool_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)


class Port(StandardAttrs, Base):
    """A port on a network: MAC, owner, binding; its addresses live in :class:`IPAllocation`."""

    __tablename__ = "ports"
    network_id: Mapped[str] = mapped_column(String(36), ForeignKey("networks.id"), index=True)
    mac_address: Mapped[str] = mapped_column(String(32))
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    device_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    binding_host_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    binding_vif_type: Mapped[str] = mapped_column(String(64), default="unbound")
    binding_vif_details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    binding_vnic_type: Mapped[str] = mapped_column(String(64), default="normal")
    binding_profile: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dns_name: Mapped[str] = mapped_column(String(255), default="")
    __table_args__ = (UniqueConstraint("network_id", "mac_address"),)


class IPAllocation(Base):
    """A fixed IP of a port; UNIQUE (network_id, ip_address) is the IPAM guarantee."""

    __tablename__ = "ip_allocations"
    port_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    subnet_id: Mapped[str] = mapped_column(String(36), ForeignKey("subnets.id"), primary_key=True, index=True)
    network_id: Mapped[str] = mapped_column(String(36))
    __table_args__ = (UniqueConstraint("network_id", "ip_address"),)


class ProvisioningBlock(Base):
    """What a port still waits for before it may go ``ACTIVE`` (Neutron's ``provisioning_blocks``): one row per
    entity (``dhcp``: a DHCP server has not confirmed it serves the port's address; ``l2``: the port's agent has
    not reported it wired). The rows go with their port."""

    __tablename__ = "provisioning_blocks"
    port_id: Mapped[str] = mapped_column(String(36), ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True)
    entity: Mapped[str] = mapped_column(String(16), primary_key=True)


class Router(StandardAttrs, Base):
    """A router; its ports are :class:`RouterPort` rows, its gateway port ``gw_port_id``."""

    __tablename__ = "routers"
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    enable_snat: Mapped[bool] = mapped_column(Boolean, default=True)
    gw_port_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("ports.id"), nullable=True)
    availability_zone_hints: Mapped[list[Any]] = mapped_column(JSON, default=list)
    ha: Mapped[bool] = mapped_column(Boolean, default=False, index=True)  # l3-ha: keepalived replicas on several agents
    ha_vr_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # its VRRP id on its project's HA network


class ExtraDhcpOpt(Base):
    """A DHCP option of a port's host entry (extra_dhcp_opt): one per option name and IP version."""

    __tablename__ = "extradhcpopts"
    port_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    opt_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    ip_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    opt_value: Mapped[str] = mapped_column(String(255))


class RouterPort(Base):
    """A port attached to a router (an interface or the gateway)."""

    __tablename__ = "router_ports"
    router_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    port_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True, unique=True
    )
    port_type: Mapped[str] = mapped_column(String(255))


class RouterRoute(Base):
    """An extra route of a router (extraroute)."""

    __tablename__ = "router_routes"
    router_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    destination: Mapped[str] = mapped_column(String(64), primary_key=True)
    nexthop: Mapped[str] = mapped_column(String(64), primary_key=True)


class FloatingIP(StandardAttrs, Base):
    """A floating IP: an address on an external network, optionally mapped to a fixed IP of a port."""

    __tablename__ = "floatingips"
    floating_ip_address: Mapped[str] = mapped_column(String(64))
    floating_network_id: Mapped[str] = mapped_column(String(36), ForeignKey("networks.id"), index=True)
    floating_port_id: Mapped[str] = mapped_column(String(36), ForeignKey("ports.id"), unique=True)
    fixed_port_id: Mapped[str | None] = mapped_column(String(36), ForeignKey("ports.id"), nullable=True, index=True)
    fixed_ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    router_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    dns_name: Mapped[str] = mapped_column(String(255), default="")
    dns_domain: Mapped[str] = mapped_column(String(255), default="")
    __table_args__ = (UniqueConstraint("fixed_port_id", "fixed_ip_address"),)


class PortForwarding(Base):
    """One port forwarding of a floating IP (Neutron's ``floating-ip-port-forwarding``): ``protocol`` traffic to
    the floating IP's external ports ``external_port_start..end`` goes to ``internal_ip_address`` (a fixed IP of
    ``internal_port_id``) on ``internal_port_start..end`` (one port, or a range as long as the external one).
    Deleting the floating IP or the internal port deletes its forwardings, as in Neutron."""

    __tablename__ = "portforwardings"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    floatingip_id: Mapped[str] = mapped_column(String(36), ForeignKey("floatingips.id", ondelete="CASCADE"), index=True)
    internal_port_id: Mapped[str] = mapped_column(String(36), ForeignKey("ports.id", ondelete="CASCADE"), index=True)
    internal_ip_address: Mapped[str] = mapped_column(String(64))
    protocol: Mapped[str] = mapped_column(String(40))
    external_port_start: Mapped[int] = mapped_column(Integer)
    external_port_end: Mapped[int] = mapped_column(Integer)
    internal_port_start: Mapped[int] = mapped_column(Integer)
    internal_port_end: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(255), default="")


class SecurityGroup(StandardAttrs, Base):
    """A security group: a named set of rules that ports reference (``security_groups`` on a port)."""

    __tablename__ = "securitygroups"
    stateful: Mapped[bool] = mapped_column(Boolean, default=True)


class DefaultSecurityGroup(Base):
    """The ``default`` group of each project: the primary key makes a second one impossible (race-free)."""

    __tablename__ = "default_security_groups"
    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("securitygroups.id", ondelete="CASCADE"), unique=True
    )


class SecurityGroupRule(StandardAttrs, Base):
    """One rule of a group; ``remote_group_id`` names the group whose members' addresses it admits."""

    __tablename__ = "securitygrouprules"
    security_group_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("securitygroups.id", ondelete="CASCADE"), index=True
    )
    remote_group_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("securitygroups.id", ondelete="CASCADE"), nullable=True, index=True
    )
    direction: Mapped[str] = mapped_column(String(16))
    ethertype: Mapped[str] = mapped_column(String(40))
    protocol: Mapped[str | None] = mapped_column(String(40), nullable=True)
    port_range_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_range_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(255), nullable=True)


class SecurityGroupPortBinding(Base):
    """A port's membership of a group (a group with members cannot be deleted: no cascade from it)."""

    __tablename__ = "securitygroupportbindings"
    port_id: Mapped[str] = mapped_column(String(36), ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("securitygroups.id"), primary_key=True, index=True
    )


class AllowedAddressPair(Base):
    """An extra (MAC, IP or CIDR) a port may send from (allowed-address-pairs)."""

    __tablename__ = "allowedaddresspairs"
    port_id: Mapped[str] = mapped_column(String(36), ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True)
    mac_address: Mapped[str] = mapped_column(String(32), primary_key=True)
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)


class AddressScope(StandardAttrs, Base):
    """An address scope (address-scope): subnet pools in one scope never overlap; routing follows scopes."""

    __tablename__ = "address_scopes"
    ip_version: Mapped[int] = mapped_column(Integer)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)


class SubnetPool(StandardAttrs, Base):
    """A subnet pool (subnet_allocation): prefixes subnets are cut from, with length bounds and a quota.

    ``prefixes`` is the compacted list of CIDR texts; the taken space is the pool's subnets
    (``subnets.subnetpool_id``), so deleting a subnet frees its prefix with no second row to keep in step."""

    __tablename__ = "subnetpools"
    ip_version: Mapped[int] = mapped_column(Integer)
    prefixes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    default_prefixlen: Mapped[int] = mapped_column(Integer)
    min_prefixlen: Mapped[int] = mapped_column(Integer)
    max_prefixlen: Mapped[int] = mapped_column(Integer)
    default_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
    address_scope_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("address_scopes.id"), nullable=True, index=True
    )


class RbacPolicy(Base):
    """An RBAC policy (rbac-policies): ``target_project`` (a project or ``*``) may use object ``object_id`` of
    ``object_type`` (``network``, ``address_scope``, ``subnetpool``) as ``action`` says (``access_as_shared``,
    ``access_as_external``). One table for every object type (Neutron has one per type) so one SQL query pages
    the list; the object's rows are removed with it by its service (no foreign key can name three tables)."""

    __tablename__ = "rbac_policies"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(255), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(255))
    target_project: Mapped[str] = mapped_column(String(255))
    __table_args__ = (
        UniqueConstraint("object_type", "object_id", "action", "target_project"),
        Index("ix_rbac_policies_object_type_target_project", "object_type", "target_project"),
    )


class Change(Base):
    """One committed change, appended in the changing transaction; agents follow this log by ``seq``."""

    __tablename__ = "changes"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    resource_id: Mapped[str] = mapped_column(String(36))
    op: Mapped[str] = mapped_column(String(16))
    router_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    network_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # AUTOINCREMENT on SQLite: a seq is never reused, even after the newest rows were deleted.
    __table_args__ = {"sqlite_autoincrement": True}


class ChangeHost(Base):
    """A host a change concerns (``host`` ``"*"``: every host), written with the change in its transaction, so a
    host's long poll reads only its own rows through the primary key (host, seq)."""

    __tablename__ = "change_hosts"
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    seq: Mapped[int] = mapped_column(
        Integer, ForeignKey("changes.seq", ondelete="CASCADE"), primary_key=True, index=True
    )


class Agent(Base):
    """A registered agent (one per host and agent type) with its last heartbeat."""

    __tablename__ = "agents"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    host: Mapped[str] = mapped_column(String(255))
    agent_type: Mapped[str] = mapped_column(String(255))
    binary: Mapped[str] = mapped_column(String(255), default="")
    topic: Mapped[str] = mapped_column(String(255), default="")
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    configurations: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    heartbeat_timestamp: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    description: Mapped[str] = mapped_column(String(255), default="")
    availability_zone: Mapped[str | None] = mapped_column(String(255), nullable=True)
    __table_args__ = (UniqueConstraint("host", "agent_type"),)


class RouterL3AgentBinding(Base):
    """An operator's placement of a router (``l3_agent_scheduler``): on the L3 agent ``agent_id``, or on none
    (NULL: removed from its agent and not added to another). A router without a row is placed automatically
    (:mod:`floatnet.core.agent_protocol.scheduling`). Rows go with their router or agent."""

    __tablename__ = "router_l3_agent_bindings"
    router_id: Mapped[str] = mapped_column(String(36), ForeignKey("routers.id", ondelete="CASCADE"), primary_key=True)
    agent_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("agents.id", ondelete="CASCADE"), nullable=True, index=True
    )


class NetworkDhcpAgentBinding(Base):
    """One of the DHCP servers of a network (Neutron's table of the same name): slot ``binding_index`` (1, 2, …)
    on the DHCP agent ``agent_id``, or on none (NULL: the operator removed it from its agent; the slot stays
    empty until the operator adds the network to an agent again). A network with a DHCP subnet and fewer rows
    than ``[DEFAULT] dhcp_agents_per_network`` gets its missing slots placed automatically
    (:mod:`floatnet.core.agent_protocol.placement`). An agent holds a network once. Rows go with their network
    or agent."""

    __tablename__ = "network_dhcp_agent_bindings"
    __table_args__ = (UniqueConstraint("network_id", "agent_id"),)
    network_id: Mapped[str] = mapped_column(String(36), ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True)
    binding_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, default=1)
    agent_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("agents.id", ondelete="CASCADE"), nullable=True, index=True
    )


class HARouterNetwork(Base):
    """The HA network of a project (l3-ha): the VRRP link between the replicas of its HA routers."""

    __tablename__ = "ha_router_networks"
    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    network_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("networks.id", ondelete="CASCADE"), unique=True, nullable=False
    )


class HARouterVRIdAllocation(Base):
    """A VRRP virtual router id (1..254) taken on an HA network: one per HA router of the project."""

    __tablename__ = "ha_router_vrid_allocations"
    network_id: Mapped[str] = mapped_column(String(36), ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True)
    vr_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class HARouterAgentPortBinding(Base):
    """One replica of an HA router: its HA port, the L3 agent running it (NULL once that agent's row is
    deleted: the replica is placed again) and the VRRP state the agent last reported."""

    __tablename__ = "ha_router_agent_port_bindings"
    port_id: Mapped[str] = mapped_column(String(36), ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True)
    router_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("routers.id", ondelete="CASCADE"), nullable=False, index=True
    )
    l3_agent_id: Mapped[str | None] = mapped_column(
        String(36), ForeignKey("agents.id", ondelete="SET NULL"), nullable=True, index=True
    )
    state: Mapped[str] = mapped_column(String(16), default="standby", server_default="standby")


class Quota(Base):
    """A per-project limit for one resource kind (absent row: the configured default)."""

    __tablename__ = "quotas"
    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(64), primary_key=True)
    limit: Mapped[int] = mapped_column(Integer)


def table_of(model: type[Base]) -> Table:
    """The Core table behind a model (typed, for fast Core statements on hot paths)."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


# The Neutron resources by the kind name the API, tags, quotas and the change log use.
RESOURCE_MODELS: dict[str, type[Base]] = {
    "network": Network,
    "subnet": Subnet,
    "port": Port,
    "router": Router,
    "floatingip": FloatingIP,
    "security_group": SecurityGroup,
    "security_group_rule": SecurityGroupRule,
    "subnetpool": SubnetPool,
    "address_scope": AddressScope,
}
