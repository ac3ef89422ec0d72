"""Port binding: which bridge a bound port plugs into (``binding:vif_type`` / ``binding:vif_details``).

A port with ``binding:host_id`` on a flat/VLAN network binds to the OVS bridge that ``[ovs] bridge_mappings``
maps its physical network to; tunnelled and local networks bind to the integration bridge. An unmapped physnet
cannot bind (``binding_failed``); an unbound port is ``unbound`` with empty details.

The details are those of Neutron's OVS agent with its hybrid firewall: ``port_filter: true`` (the agent
enforces security groups) and ``ovs_hybrid_plug: true`` (the hypervisor puts a per-port Linux bridge between the
tap and OVS, where the filter lives — docs/security-groups.md). A port with port security whose device is
plugged straight into OVS anyway is isolated by the agent, never forwarded unfiltered.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.agent_protocol.tunnel_peers import OVS_AGENT, bridge_for
from floatnet.db.models import Agent


def datapath_type(session: Session, config: Config, host: str) -> str:
    """The configured datapath, or (``auto``) the one the host's agent reported, else ``system``."""
    if config.datapath_type != "auto":
        return config.datapath_type
    configurations = session.scalar(
        select(Agent.configurations).where(Agent.host == host, Agent.agent_type == OVS_AGENT)
    )
    reported = (configurations or {}).get("datapath_type")
    return reported if reported in ("system", "netdev") else "system"


def vif(session: Session, config: Config, network: Any, host: str) -> tuple[str, dict[str, Any]]:
    """``(binding:vif_type, binding:vif_details)`` for a port of ``network`` bound to ``host``."""
    if not host:
        return "unbound", {}
    bridge = bridge_for(config, network.network_type, network.physical_network)
    if bridge is None:
        return "binding_failed", {}
    return "ovs", {
        "bridge_name": bridge,
        "port_filter": True,
        "datapath_type": datapath_type(session, config, host),
        "ovs_hybrid_plug": True,
        "connectivity": "l2",
    }
