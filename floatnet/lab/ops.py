"""The lab's top-level operations: ``up``, ``down`` (everything, even a half-built lab), ``exec``.

``down`` works from the state file first (processes by PID, recorded devices and namespaces, the instances'
ports through the API when the server answers) and then sweeps what carries the prefix but escaped the record
(a crash between creating and recording): namespaces named ``<prefix>…`` and veths named ``<prefix>…`` where
OVS runs.
"""

from __future__ import annotations

import shutil

from floatnet.lab import instance, nodes, procs, upstream
from floatnet.lab import state as lab_state
from floatnet.lab.client import LabClient
from floatnet.lab.context import LabContext
from floatnet.lab.state import LabState
from floatnet.linux import links, netns

UPSTREAM_ALIAS = "upstream"


def up(ctx: LabContext) -> LabState:
    """Build (or complete) the upstream side; see :mod:`floatnet.lab.upstream`."""
    return upstream.up(ctx)


def _sweep(ctx: LabContext) -> list[str]:
    prefix = ctx.names.prefix
    swept = []
    if ctx.ovs_netns is None or netns.exists(ctx.ovs_netns):
        for link in links.list_links(ctx.ovs_netns):
            if link.name.startswith(prefix) and link.kind == "veth":
                links.delete_link(link.name, ctx.ovs_netns)
                swept.append(link.name)
    for ns in netns.list_names([prefix]):
        if ns != ctx.ovs_netns:
            netns.delete(ns)
            swept.append(ns)
    return swept


def down(ctx: LabContext, api: LabClient | None) -> tuple[list[str], list[str]]:
    """Remove everything this lab built; returns (names swept beyond the record, steps that failed).

    Ports of instances are deleted through ``api`` when given; an unreachable server or OVS does not stop the
    rest: every step is tried.
    """
    state = lab_state.load(ctx.state_dir, ctx.names.prefix)
    errors: list[str] = []
    for node in list(state.nodes.values()):
        errors += nodes.remove(ctx, state, node, api)
    for inst in list(state.instances.values()):
        errors += instance.remove(ctx, state, inst, api)
    errors += upstream.down(ctx, state)
    swept: list[str] = []
    procs.best_effort(errors, "sweep", lambda: swept.extend(_sweep(ctx)))
    shutil.rmtree(ctx.files, ignore_errors=True)
    lab_state.save(ctx.state_dir, state)
    return swept, errors


def namespace_of(ctx: LabContext, name: str) -> str:
    """The namespace behind a lab name: ``upstream`` or an instance's name (LabError if neither; a node is
    entered with :func:`floatnet.lab.nodes.enter`)."""
    state = lab_state.load(ctx.state_dir, ctx.names.prefix)
    if name == UPSTREAM_ALIAS and state.upstream_ns:
        return state.upstream_ns
    if name in state.instances:
        return state.instances[name].ns
    raise instance.LabError(f"no instance {name!r} in lab {ctx.names.prefix!r} (and 'upstream' is not up)")
