"""The lab's state file: what ``lab up`` and ``lab instance create`` built, so ``lab down`` removes exactly
that.

One JSON file per prefix in the lab's state directory, rewritten atomically (write + rename) after every step,
so a crash half-way still leaves a file naming everything built so far.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Proc:
    """A process the lab started: its PID and a string its command line must hold before it is signalled."""

    pid: int
    marker: str


@dataclass
class Link:
    """A physnet's "physical" link: ``root`` is plugged into ``bridge``, ``peer`` lives in the upstream ns."""

    physnet: str
    bridge: str
    root: str
    peer: str
    address: str | None = None


@dataclass
class Instance:
    """An instance namespace plugged into a bridge through ``tap`` for ``port_id`` (behind a per-port Linux
    bridge when the port's binding asks for the hybrid plug: then ``vif`` is ``qvo<id>``)."""

    name: str
    ns: str
    port_id: str
    network_id: str
    mac: str
    tap: str
    bridge: str
    host: str
    procs: dict[str, Proc] = field(default_factory=dict)
    vif: str = ""  # the device in OVS: qvo<id> of the hybrid plug (tap -- qbr -- qvb/qvo), else the tap itself
    ovsdb: str = ""  # on a multi-node lab's node: that node's OVS (else the lab's)
    ovs_netns: str = ""


@dataclass
class Node:
    """A multi-node lab's node (:mod:`floatnet.lab.nodes`): namespace ``ns`` holding its physnet NICs and
    management address, its agent's ini and state in ``directory``; ``procs`` while it is powered on
    (``init``: PID 1 of its PID namespace, ``relay``: its path to the API server); ``failed`` after
    ``node fail``; ``server``: the API server its agent follows when not the lab's (several servers on one
    database, agents spread across them)."""

    name: str
    index: int
    ns: str
    roles: list[str]
    address: str
    directory: str
    procs: dict[str, Proc] = field(default_factory=dict)
    failed: bool = False
    server: str = ""

    @property
    def ovsdb(self) -> str:
        """The node's own OVSDB socket (its agent starts the daemons; the socket is a file, reachable from
        the host)."""
        return f"unix:{self.directory}/state/ovs/db.sock"


@dataclass
class LabState:
    """Everything one lab (one prefix) owns."""

    prefix: str
    upstream_ns: str | None = None
    links: list[Link] = field(default_factory=list)
    procs: dict[str, Proc] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    ovsdb: str | None = None
    ovs_netns: str | None = None
    switch_ns: str | None = None  # multi-node: the lab switch the nodes and the upstream are wired to
    nodes: dict[str, Node] = field(default_factory=dict)


def state_path(state_dir: Path, prefix: str) -> Path:
    return state_dir / f"{prefix}lab.json"


def _procs(raw: dict[str, Any]) -> dict[str, Proc]:
    return {name: Proc(**value) for name, value in raw.items()}


def load(state_dir: Path, prefix: str) -> LabState:
    """The recorded state for ``prefix``; an empty state when nothing was recorded yet."""
    path = state_path(state_dir, prefix)
    if not path.exists():
        return LabState(prefix=prefix)
    raw = json.loads(path.read_text())
    instances = {}
    for name, inst in raw.get("instances", {}).items():
        inst = dict(inst)
        inst["procs"] = _procs(inst.get("procs", {}))
        instances[name] = Instance(**inst)
    return LabState(
        prefix=raw["prefix"],
        upstream_ns=raw.get("upstream_ns"),
        links=[Link(**link) for link in raw.get("links", [])],
        procs=_procs(raw.get("procs", {})),
        instances=instances,
        ovsdb=raw.get("ovsdb"),
        ovs_netns=raw.get("ovs_netns"),
        switch_ns=raw.get("switch_ns"),
        nodes={name: _node(node) for name, node in raw.get("nodes", {}).items()},
    )


def _node(raw: dict[str, Any]) -> Node:
    return Node(**{**raw, "procs": _procs(raw.get("procs", {}))})


def save(state_dir: Path, state: LabState) -> None:
    """Write ``state`` atomically; removes the file once the lab holds nothing."""
    path = state_path(state_dir, state.prefix)
    if not (state.upstream_ns or state.links or state.procs or state.instances or state.switch_ns or state.nodes):
        path.unlink(missing_ok=True)
        return
    state_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=2, sort_keys=True))
    os.replace(tmp, path)
