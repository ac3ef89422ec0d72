"""What one lab is built from: the floatnet configuration it mirrors, its prefix, its state directory.

The lab reads the same ini file as the server and the agent: ``[ovs] bridge_mappings`` says which bridges get
a "physical" link, ``[ml2_type_flat] flat_networks`` which of them is the external (flat) one carrying the
upstream router's 203.0.113.1, ``[agent] host`` which host instances are bound to.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from floatnet.config import Config
from floatnet.lab.names import DEFAULT_PREFIX, LabNames


def _default_external(config: Config) -> str | None:
    physnets = list(config.bridge_mappings)
    flat = [p for p in physnets if p in config.flat_networks]
    if flat:
        return flat[0]
    return physnets[0] if physnets else None


def datapath_for(config: Config) -> str:
    """The datapath the agent will use: ``system`` only when asked and the kernel has openvswitch."""
    if config.datapath_type != "auto":
        return config.datapath_type
    return "system" if Path("/sys/module/openvswitch").exists() else "netdev"


@dataclass
class LabContext:
    """Everything lab operations need; build it with :func:`make_context`."""

    config: Config
    names: LabNames
    state_dir: Path
    server_url: str
    ovsdb: str | None
    ovs_netns: str | None
    external_physnet: str | None
    host: str
    python: str = field(default_factory=lambda: sys.executable)

    @property
    def files(self) -> Path:
        return self.state_dir / f"{self.names.prefix}files"

    def lease_file(self, instance: str) -> Path:
        return self.files / f"{instance}.lease"

    def log_file(self, what: str) -> Path:
        return self.files / f"{what}.log"

    def netns_etc(self, ns: str) -> Path:
        """``/etc/netns/<ns>``: what ``ip netns exec`` bind-mounts over ``/etc`` entries in that namespace."""
        return Path("/etc/netns") / ns


def make_context(
    config: Config,
    server_url: str,
    prefix: str | None = None,
    state_dir: Path | None = None,
    ovsdb: str | None = None,
    external_physnet: str | None = None,
    ovs_netns: str | None = None,
) -> LabContext:
    """A context from the floatnet config; arguments win, then ``FLOATNET_LAB_PREFIX``/``FLOATNET_OVSDB``."""
    prefix = prefix or os.environ.get("FLOATNET_LAB_PREFIX") or DEFAULT_PREFIX
    external = external_physnet or _default_external(config)
    if external is not None and external not in config.bridge_mappings:
        raise ValueError(f"external physnet {external!r} is not in [ovs] bridge_mappings")
    return LabContext(
        config=config,
        names=LabNames(prefix),
        state_dir=state_dir or config.state_dir / "lab",
        server_url=server_url,
        ovsdb=ovsdb or os.environ.get("FLOATNET_OVSDB") or config.ovsdb_connection or None,
        ovs_netns=ovs_netns or os.environ.get("FLOATNET_OVS_NETNS") or None,
        external_physnet=external,
        host=config.host,
    )
