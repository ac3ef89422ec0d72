"""The multi-node lab: several "machines" on one host, each with its own namespaces, Open vSwitch and agent.

A node is what a separate machine would be, built from three namespaces:

* **network**: ``<prefix>node-<name>`` (in the host's ``/run/netns``), holding its physnet NICs ``eth<i>``
  (wired to the lab switch, :mod:`floatnet.lab.switch`), its management address ``mgmt0`` 10.99.0.N, its
  Open vSwitch (the agent starts its own, plugging ``eth<i>`` into the physnet bridges as ``[ovs]
  physical_interfaces``) and the instances' taps;
* **mount**, with a private ``/run`` (:mod:`floatnet.lab.node_init`): the agent names its namespaces
  ``qrouter-<id>``/``qdhcp-<id>`` exactly as Neutron does, and two nodes hosting the same router (a failover
  target, HA replicas) never collide, because each binds them in its own ``/run/netns``;
* **PID**: PID 1 is the node's init, so ``node fail`` is one SIGKILL (by PID) after which the kernel kills
  the agent, the OVS daemons, dnsmasq and radvd of that node and nothing else; the node's namespaces go with
  them, then its network namespace is deleted, which cuts its links: a power loss. ``node recover`` powers it
  on again from the same disk (its state directory: OVS database, agent records).

The agent reaches the server through :mod:`floatnet.lab.relay` (the server stays on the host's loopback). The
lab and the tests enter a node with :func:`enter` (``nsenter`` into its namespaces). Every node is recorded in
the lab's state file before anything is built for it, so ``node del`` and ``lab down`` remove even a half-built
one.
"""

from __future__ import annotations

import ipaddress
import shutil
import time
from pathlib import Path
from urllib.parse import urlsplit

from floatnet import config as fn_config
from floatnet.lab import hypervisor, instance, procs, switch, upstream
from floatnet.lab import state as lab_state
from floatnet.lab.client import LabClient
from floatnet.lab.context import LabContext, datapath_for
from floatnet.lab.instance import LabError
from floatnet.lab.names import MGMT_NETWORK, NODE_MGMT_DEV, NODE_PHYSNET_DEV
from floatnet.lab.state import LabState, Node, Proc
from floatnet.linux import links, netns

AGENT_INI = """[DEFAULT]
state_dir = {state}
ha_vrrp_advert_int = {advert_int}

[ovs]
bridge_mappings = {mappings}
physical_interfaces = {interfaces}
datapath_type = {datapath}
local_ip = {local_ip}

[agent]
host = {host}
roles = {roles}
upstream_dns = {dns}
report_interval = {interval}
availability_zone = {zone}
ha_conntrackd_enabled = {conntrackd}
"""
INIT_MODULE = "floatnet.lab.node_init"


def _load(ctx: LabContext, name: str) -> tuple[LabState, Node]:
    state = lab_state.load(ctx.state_dir, ctx.names.prefix)
    if name not in state.nodes:
        raise LabError(f"no node {name!r} in lab {ctx.names.prefix!r}")
    return state, state.nodes[name]


def ensure_switch(ctx: LabContext, state: LabState) -> LabState:
    """The lab switch and the upstream wired to it; refuses a lab whose upstream is wired to one OVS."""
    if state.upstream_ns and not state.switch_ns:
        raise LabError(f"lab {ctx.names.prefix!r} is a single-node lab (lab up): run 'lab down' first")
    state.switch_ns = ctx.names.switch_ns
    lab_state.save(ctx.state_dir, state)
    switch.ensure(state.switch_ns, len(ctx.config.bridge_mappings))
    return upstream.up(ctx)


def _write_ini(ctx: LabContext, node: Node) -> Path:
    physnets = list(ctx.config.bridge_mappings)
    cfg = ctx.config
    text = AGENT_INI.format(
        state=f"{node.directory}/state", host=node.name, roles=",".join(node.roles),
        mappings=",".join(f"{p}:{b}" for p, b in cfg.bridge_mappings.items()),
        interfaces=",".join(f"{p}:{NODE_PHYSNET_DEV.format(index=i)}" for i, p in enumerate(physnets)),
        datapath=datapath_for(cfg), dns=",".join(cfg.upstream_dns), interval=cfg.report_interval,
        zone=cfg.availability_zone, local_ip=node.address.split("/")[0],  # VXLAN over the management network
        advert_int=cfg.ha_vrrp_advert_int, conntrackd=str(cfg.ha_conntrackd_enabled).lower(),  # the lab's HA tuning
    )  # fmt: skip
    path = Path(node.directory) / "agent.ini"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _wire(ctx: LabContext, state: LabState, node: Node) -> None:
    """The node's namespace, its NICs on the switch's bridges, its management address."""
    assert state.switch_ns is not None
    netns.ensure(node.ns)
    count = len(ctx.config.bridge_mappings)
    plan = [(i, NODE_PHYSNET_DEV.format(index=i), switch.physnet_bridge(i)) for i in range(count)]
    for physnet, inner, bridge in [*plan, (None, NODE_MGMT_DEV, switch.MGMT_BRIDGE)]:
        outer = ctx.names.node_port_dev(node.index, physnet)
        links.ensure_veth(outer, inner, node.ns, peer_name=inner, netns=state.switch_ns)
        links.tx_offload_off(inner, node.ns)
        switch.attach(state.switch_ns, outer, bridge)
    links.add_address(node.ns, NODE_MGMT_DEV, node.address)


def _init_pid(wrapper: int, timeout: float = 10.0) -> int:
    """The host PID of the node's init: the child ``unshare --fork`` starts."""
    deadline = time.monotonic() + timeout
    children = Path(f"/proc/{wrapper}/task/{wrapper}/children")
    while time.monotonic() < deadline:
        try:
            found = children.read_text().split()
        except OSError:
            found = []
        if found:
            return int(found[0])
        time.sleep(0.02)
    raise LabError(f"the node's init did not start (unshare PID {wrapper})")


def _power_on(ctx: LabContext, state: LabState, node: Node) -> None:
    """Wire the node, start its relay to the server and its init (which starts the agent)."""
    _wire(ctx, state, node)
    ini = _write_ini(ctx, node)
    url = urlsplit(node.server or ctx.server_url)
    port = url.port or 80
    log = Path(node.directory)
    relay = [ctx.python, "-m", "floatnet.lab.relay", node.ns, str(port), url.hostname or "127.0.0.1", str(port)]
    node.procs["relay"] = procs.spawn(relay, log / "relay.log", f"floatnet.lab.relay {node.ns}")
    agent = [ctx.python, "-m", "floatnet", "agent", "--config", str(ini), "--server", f"http://127.0.0.1:{port}"]
    init = [ctx.python, "-m", INIT_MODULE, str(log / "agent.log"), "--", *agent]
    wrapper = ["unshare", "--mount", "--pid", "--fork", "--mount-proc", "--kill-child", *init]
    node.procs["unshare"] = procs.spawn(procs.in_ns(node.ns, wrapper), log / "init.log", f"{INIT_MODULE} {log}")
    node.procs["init"] = Proc(pid=_init_pid(node.procs["unshare"].pid), marker=f"{INIT_MODULE} {log}")
    node.failed = False
    lab_state.save(ctx.state_dir, state)


def wait_alive(api: LabClient, node: str, timeout: float = 60.0) -> None:
    """Return once every agent row of ``node`` is alive; LabError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        agents = api.list("agent", host=node)
        if agents and all(agent["alive"] for agent in agents):
            return
        time.sleep(0.2)
    raise LabError(f"node {node!r}: its agent did not report within {timeout:g} s")


def _wait_ovs(ctx: LabContext, node: Node, timeout: float) -> None:
    """Return once the node's OVS holds its physnet bridges (the agent starts the daemons and adds them)."""
    deadline = time.monotonic() + timeout
    bridges = list(ctx.config.bridge_mappings.values())
    while not all(hypervisor.bridge_exists(node.ovsdb, bridge) for bridge in bridges):
        if time.monotonic() > deadline:
            raise LabError(f"node {node.name!r}: its Open vSwitch did not come up within {timeout:g} s")
        time.sleep(0.1)


def add(ctx: LabContext, api: LabClient, name: str, roles: str, wait: float = 60.0, server: str = "") -> Node:
    """Build node ``name`` with ``roles`` (``l3,dhcp,compute`` any subset) and wait for its agent; its agent
    follows ``server`` (an API server's URL on this host) instead of the lab's when given."""
    parsed = fn_config.parse_roles(roles)
    if not name or not all(c.isalnum() or c in "-_" for c in name):
        raise LabError(f"node name {name!r} may hold only letters, digits, '-' and '_'")
    state = ensure_switch(ctx, lab_state.load(ctx.state_dir, ctx.names.prefix))
    if name in state.nodes:
        raise LabError(f"node {name!r} exists already (lab prefix {ctx.names.prefix!r})")
    index = min(set(range(1, 250)) - {node.index for node in state.nodes.values()})
    address = f"{ipaddress.ip_network(MGMT_NETWORK)[index]}/{ipaddress.ip_network(MGMT_NETWORK).prefixlen}"
    node = Node(name=name, index=index, ns=ctx.names.node_ns(name), roles=list(parsed), address=address,
                directory=str(ctx.files / "nodes" / name), server=server)  # fmt: skip
    state.nodes[name] = node
    lab_state.save(ctx.state_dir, state)
    _power_on(ctx, state, node)
    if wait > 0:
        wait_alive(api, name, wait)
    return node


def _power_off(ctx: LabContext, state: LabState, node: Node) -> list[str]:
    """SIGKILL the node's init (the kernel kills every process of the node), stop its relay, kill its
    instances' processes (the VMs die with their hypervisor) and delete its namespace (its links go with it)."""
    errors: list[str] = []
    for key in ("init", "unshare"):  # init first: the kernel kills the node's processes; unshare then exits
        if key in node.procs:
            procs.best_effort(errors, f"kill {key} of node {node.name}", procs.kill, node.procs.pop(key))
    if "relay" in node.procs:
        procs.best_effort(errors, f"stop relay of {node.name}", procs.stop, node.procs.pop("relay"))
    for inst in on_node(state, node.name):
        for key in list(inst.procs):
            procs.best_effort(errors, f"stop {key} of {inst.name}", procs.kill, inst.procs.pop(key))
    procs.best_effort(errors, f"kill what is left in {node.ns}", netns.kill_processes, node.ns)
    procs.best_effort(errors, f"delete namespace {node.ns}", netns.delete, node.ns)
    lab_state.save(ctx.state_dir, state)
    return errors


def on_node(state: LabState, name: str) -> list[lab_state.Instance]:
    """The lab's instances plugged into node ``name``."""
    return [inst for inst in state.instances.values() if inst.host == name and inst.ovs_netns]


def fail(ctx: LabContext, name: str) -> list[str]:
    """Power node ``name`` off as a power loss would (see the module docstring); returns what failed."""
    state, node = _load(ctx, name)
    errors = _power_off(ctx, state, node)
    node.failed = True
    lab_state.save(ctx.state_dir, state)
    return errors


def recover(ctx: LabContext, api: LabClient, name: str, wait: float = 60.0) -> Node:
    """Power a failed node on again (same disk), wait for its agent and its OVS (which the agent starts),
    re-plug its instances (Nova's resume of guests on host boot)."""
    state, node = _load(ctx, name)
    if not node.failed and "init" in node.procs and procs.alive(node.procs["init"]):
        raise LabError(f"node {name!r} is running")
    _power_off(ctx, state, node)  # whatever is left of a half-failed node
    _power_on(ctx, state, node)
    wait_alive(api, name, wait)
    _wait_ovs(ctx, node, wait)
    for inst in on_node(state, name):
        instance.restart(ctx, state, inst)
    return node


def delete(ctx: LabContext, api: LabClient | None, name: str) -> list[str]:
    """Remove node ``name``: its instances (and their ports), its processes and namespace, its agent rows,
    its files; returns what failed."""
    state, node = _load(ctx, name)
    return remove(ctx, state, node, api)


def remove(ctx: LabContext, state: LabState, node: Node, api: LabClient | None) -> list[str]:
    """:func:`delete` of a loaded node (``lab down`` calls it for every node)."""
    errors: list[str] = []
    for inst in on_node(state, node.name):
        errors += instance.remove(ctx, state, inst, api)
    errors += _power_off(ctx, state, node)
    if api is not None:
        procs.best_effort(errors, f"delete the agents of {node.name}", _delete_agents, api, node.name)
    shutil.rmtree(node.directory, ignore_errors=True)
    state.nodes.pop(node.name, None)
    lab_state.save(ctx.state_dir, state)
    return errors


def _delete_agents(api: LabClient, host: str) -> None:
    for agent in api.list("agent", host=host):
        api.delete("agent", agent["id"])


def listing(ctx: LabContext) -> list[dict[str, str]]:
    """One row per node: name, roles, namespace, management address, power state, its instances."""
    state = lab_state.load(ctx.state_dir, ctx.names.prefix)
    rows = []
    for node in state.nodes.values():
        init = node.procs.get("init")
        power = "failed" if node.failed else ("up" if init and procs.alive(init) else "down")
        rows.append({
            "name": node.name, "roles": ",".join(node.roles), "namespace": node.ns, "address": node.address,
            "state": power, "instances": ",".join(inst.name for inst in on_node(state, node.name)),
        })  # fmt: skip
    return rows


def enter(node: Node, argv: list[str]) -> list[str]:
    """``argv`` run inside ``node`` as its own processes see the machine: its network, mount (its
    ``/run/netns``: ``ip netns exec qrouter-<id> …`` works) and PID namespaces."""
    init = node.procs.get("init")
    if init is None or not procs.alive(init):
        raise LabError(f"node {node.name!r} is not running")
    return ["nsenter", "-t", str(init.pid), "-m", "-n", "-p", "--", *argv]


def find(ctx: LabContext, name: str) -> Node | None:
    """Node ``name`` of this lab, None if it has none of that name."""
    return lab_state.load(ctx.state_dir, ctx.names.prefix).nodes.get(name)
