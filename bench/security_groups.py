"""Security groups benchmark (issue 13's targets): prints one JSON document. Needs root.

On a real deployment (``floatnet server`` + ``floatnet agent``, a private Open vSwitch, the seed's router and
an upstream namespace, as in bench/convergence.py) with ``--ports`` ports (default 1,000) bound to the node in
``--groups`` groups (default 100), all of them also members of one big group ``members``; the instance ``vm``
is plugged the hybrid way (tap — qbr — qvb/qvo, as the port's binding asks) and has a floating IP:

* ``rule_to_connect``: ``--rounds`` times, a rule admitting TCP 7 from the upstream is created in the
  instance's group; the time from the API call returning to the first TCP connect through the floating IP
  (p50/p99; target p99 ≤ 100 ms); the rule is deleted again and the port proven closed before the next round.
* ``member_add``: a port of another node joins ``members`` (the remote group of a rule of the instance's
  group, so this node must learn its address): the agent's kernel time for that change, from the agent's own
  step log, with the step's action kinds (p50/p99; target ≤ 2 ms).
* ``conn_rate``: new TCP connections/s from the upstream to the floating IP for ``--seconds``, with 50 rules
  and the ``members`` remote-group rule on the instance, and with port security off on the same path,
  alternated twice (target ratio ≥ 0.9).
* ``restart``: the agent restarted (SIGTERM, start) under a 40 Hz TCP probe: its full sync's actions (target
  0) and probes lost (target 0), with the probe's losses over as long a quiet window after it as control.
* ``kernel``: the same kinds of change measured in the kernel alone against a Neutron-style baseline (per-port
  chains re-rendered per change), see bench/sg_kernel.py.

Everything lives in namespaces named with one run prefix (``s`` + 4 hex), removed at the end (processes by
PID). Usage::

    sudo .venv/bin/python bench/security_groups.py [--ports 1000] [--groups 100] [--rounds 50] [--seconds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import subprocess
import sys
import time
from typing import Any

import sg_kernel
from convergence import connect_until, percentiles
from convergence_env import ECHO_PORT, Env, until
from drift import Probe, connect, warm_restart
from sg_enforcement import CLIENT

from floatnet.linux import links, netns, port_filter

UPSTREAM_IP = "203.0.113.1"
STEP = re.compile(r"step \(feed .*?\): \d+ actions \((.*?)\), \d+ errors; ms: apply ([\d.]+) \(kernel ([\d.]+)\)")


class SgEnv(Env):
    """The convergence world with instances plugged the hybrid way and unlimited quotas for the bench."""

    def make_vm(self, name: str, wired: bool = True) -> dict[str, Any]:
        port = self.api.create("port", network_id=self.priv["id"], name=name, **{"binding:host_id": self.host})
        ns, tap = self.ns(f"{self.prefix}-{name}"), "tap" + port["id"][:11]
        links.ensure_veth(tap, "eth0", ns, mac=port["mac_address"], peer_name="eth0", netns=self.ovs_ns)
        links.tx_offload_off(tap, self.ovs_ns)
        links.tx_offload_off("eth0", ns)
        qvo = port_filter.ensure_plug(self.ovs_ns, port["id"], tap)
        links.tx_offload_off(qvo, self.ovs_ns)
        mac = port["mac_address"]
        self.vsctl("add-port", "br-eth1", qvo, "--", "set", "Interface", qvo,
                   f"external_ids:iface-id={port['id']}", f'external_ids:attached-mac="{mac}"')  # fmt: skip
        if wired:
            links.add_address(ns, "eth0", port["fixed_ips"][0]["ip_address"] + "/16")
            links.sync_routes(ns, "10.0.0.1")
        return {"port": port, "ns": ns, "dev": qvo}


class World:
    """The instance, its group and floating IP, the bulk ports and groups (see the module docstring)."""

    def __init__(self, env: SgEnv, ports: int, groups: int) -> None:
        self.env, api = env, env.api
        project = env.priv["project_id"]
        api.call("PUT", f"/quotas/{project}", {"quota": {"port": -1, "security_group": -1, "security_group_rule": -1}})
        self.members = api.create("security_group", name="members")
        self.group = api.create("security_group", name="vm")
        api.create("security_group_rule", security_group_id=self.group["id"], direction="ingress",
                   remote_group_id=self.members["id"])  # fmt: skip
        self.groups = [api.create("security_group", name=f"g{i}") for i in range(groups)]
        for i, group in enumerate(self.groups):
            for port in (22, 10000 + i):
                api.create("security_group_rule", security_group_id=group["id"], direction="ingress",
                           protocol="tcp", port_range_min=port, port_range_max=port)  # fmt: skip
        for i in range(ports):
            api.create("port", network_id=env.priv["id"], name=f"bulk{i}", **{"binding:host_id": env.host},
                       security_groups=[self.members["id"], self.groups[i % groups]["id"]])  # fmt: skip
        self.vm = env.make_vm("vm")
        api.update("port", self.vm["port"]["id"], security_groups=[self.group["id"]])
        env.listen(self.vm["ns"], ECHO_PORT)
        self.fip = api.create("floatingip", floating_network_id=env.ext["id"], subnet_id=env.ext_subnet["id"],
                              port_id=self.vm["port"]["id"])["floating_ip_address"]  # fmt: skip
        self.open_rule = self.allow_echo()
        until(self.reach, 120, "the floating IP through the instance's filter")

    def allow_echo(self) -> dict[str, Any]:
        return dict(self.env.api.create(
            "security_group_rule", security_group_id=self.group["id"], direction="ingress", protocol="tcp",
            port_range_min=ECHO_PORT, port_range_max=ECHO_PORT, remote_ip_prefix=f"{UPSTREAM_IP}/32",
        ))  # fmt: skip

    def reach(self, timeout: float = 0.2) -> bool:
        return bool(netns.run_in(self.env.upstream, connect, self.fip, ECHO_PORT, timeout))

    def members_of(self) -> list[str]:
        return [p["id"] for p in self.env.api.list("port", security_groups=self.members["id"])]

    def installed_filters(self) -> int:
        return len(port_filter.observe(self.env.ovs_ns).ports)


def rule_to_connect(world: World, rounds: int) -> dict[str, Any]:
    """Create the admitting rule, time the first connect; delete it, wait until closed; ``rounds`` times."""
    api, times, misses = world.env.api, [], 0
    api.delete("security_group_rule", world.open_rule["id"])
    until(lambda: not world.reach(), 30, "the port closed")
    for _ in range(rounds):
        rule = world.allow_echo()
        start = time.monotonic()
        seen = netns.run_in(world.env.upstream, connect_until, world.fip, ECHO_PORT, start + 10)
        if seen is None:
            misses += 1
        else:
            times.append(seen - start)
        api.delete("security_group_rule", rule["id"])
        until(lambda: not world.reach(), 30, "the port closed again")
    world.open_rule = world.allow_echo()
    until(world.reach, 30, "the port open")
    return {"ms": percentiles(times), "missed": misses, "target": "p99 <= 100 ms"}


def member_add(world: World, rounds: int) -> dict[str, Any]:
    """One port joins the remote group ``members``: the agent's kernel time for it (its step log)."""
    env = world.env
    elsewhere = {"binding:host_id": "another-node", "device_owner": "compute:nova"}  # only the set changes here
    made: dict[str, Any] = {}
    _agent_step(env, lambda: made.update(env.api.create("port", network_id=env.priv["id"], name="joiner",
                                                        **elsewhere)))  # its DHCP entry: not part of the measure
    spare = made
    kernel: list[float] = []
    applied: list[float] = []
    kinds: set[str] = set()
    for _ in range(rounds):
        kind, apply_ms, kernel_ms = _agent_step(
            env, lambda: env.api.update("port", spare["id"], security_groups=[world.members["id"]])
        )
        kernel.append(kernel_ms / 1000)
        applied.append(apply_ms / 1000)
        kinds.add(kind)
        _agent_step(env, lambda: env.api.update("port", spare["id"], security_groups=[]))
    return {"agent_kernel_ms": percentiles(kernel), "agent_apply_ms": percentiles(applied),
            "step_actions": sorted(kinds), "target": "kernel <= 2 ms"}  # fmt: skip


def _agent_step(env: Env, change: Any) -> tuple[str, float, float]:
    """Make ``change`` and return the agent's next step that did something: (its action kinds, apply ms, kernel
    ms)."""
    seen = len(env.agent_log())
    change()

    def step() -> tuple[str, float, float] | None:
        for line in env.agent_log()[seen:]:
            found = STEP.search(line)
            if found:
                return found.group(1), float(found.group(2)), float(found.group(3))
        return None

    return tuple(until(step, 120, "the agent's step for the change"))  # type: ignore[return-value]


def _rate(world: World, seconds: float) -> dict[str, Any]:
    argv = netns.exec_argv(world.env.upstream, [sys.executable, "-c", CLIENT, world.fip, str(ECHO_PORT),
                                                str(seconds)])  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    result = json.loads(out)
    result["per_second"] = round(result["ok"] / seconds, 1)
    return dict(result)


def conn_rate(world: World, seconds: float) -> dict[str, Any]:
    """New connections/s with 50 rules + the remote-group rule, and with port security off: alternated twice
    (filtered, off, filtered, off) so a change of the shared machine's load hits both alike."""
    api = world.env.api
    extra = [api.create("security_group_rule", security_group_id=world.group["id"], direction="ingress",
                        protocol="tcp", port_range_min=20000 + i, port_range_max=20000 + i)
             for i in range(48)]  # fmt: skip
    rules = len(api.show("security_group", world.group["id"])["security_group_rules"])
    runs: dict[str, list[dict[str, Any]]] = {"filtered": [], "port_security_off": []}
    for _ in range(2):
        runs["filtered"].append(_rate(world, seconds))
        _port_security(world, False)
        runs["port_security_off"].append(_rate(world, seconds))
        _port_security(world, True)
    for rule in extra:
        api.delete("security_group_rule", rule["id"])
    rate = {mode: round(sum(r["ok"] for r in found) / (seconds * len(found)), 1) for mode, found in runs.items()}
    ratio = rate["filtered"] / rate["port_security_off"] if rate["port_security_off"] else None
    return {"rules_on_instance": rules, "remote_group_members": len(world.members_of()), "per_second": rate,
            "runs": runs, "ratio": round(ratio, 3) if ratio else None, "target": ">= 0.9"}  # fmt: skip


def _port_security(world: World, on: bool) -> None:
    """Switch the instance's port security (and its group) and wait until the kernel and traffic agree."""
    api, port_id = world.env.api, world.vm["port"]["id"]
    if on:
        api.update("port", port_id, port_security_enabled=True, security_groups=[world.group["id"]])
    else:
        api.update("port", port_id, security_groups=[], port_security_enabled=False)
    until(lambda: (port_id in port_filter.observe(world.env.ovs_ns).ports) == on, 300, f"port security {on}")
    until(world.reach, 300, "the floating IP")


def restart(world: World, hz: float) -> dict[str, Any]:
    """The agent restarted under a TCP probe; the same probe's losses over an equal quiet window before it
    are the control (on a loaded machine a 25 ms connect timeout loses probes without any restart)."""
    probe = Probe(world.env.upstream, world.fip, ECHO_PORT, hz)
    probe.start()
    try:
        time.sleep(1)
        quiet_start = time.monotonic()
        result = warm_restart(world.env, probe)
        restart_window = time.monotonic() - quiet_start
        control_start = time.monotonic()
        time.sleep(restart_window)
        control = probe.lost(control_start, time.monotonic())
    finally:
        probe.stopped.set()
    return result | {"control_probes_lost_same_window_after": control, "target": "0 actions, 0 probes lost"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ports", type=int, default=1000, help="ports on the node, all in the remote group")
    parser.add_argument("--groups", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each connection-rate run")
    parser.add_argument("--skip-agent", action="store_true", help="only the kernel comparison")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("needs root (namespaces, OVS, nftables)", file=sys.stderr)
        return 1
    prefix = f"s{secrets.token_hex(2)}"
    result: dict[str, Any] = {"loadavg_start": os.getloadavg()[0]}
    result["kernel"] = sg_kernel.measure(prefix, args.ports, args.groups, args.rounds)
    if not args.skip_agent:
        with SgEnv(prefix) as env:
            started = time.monotonic()
            world = World(env, args.ports, args.groups)
            created = time.monotonic()
            until(lambda: world.installed_filters() > args.ports, 1800, "every port's filter installed")
            result["setup"] = {"api_seconds": round(created - started, 1), "ports": args.ports, "groups": args.groups,
                               "all_filters_installed_seconds": round(time.monotonic() - started, 1),
                               "port_filters_installed": world.installed_filters()}  # fmt: skip
            sections = {
                "rule_to_connect": lambda: rule_to_connect(world, args.rounds),
                "member_add": lambda: member_add(world, min(args.rounds, 20)),
                "conn_rate": lambda: conn_rate(world, args.seconds),
                "restart": lambda: restart(world, 40.0),
            }
            for name, section in sections.items():
                try:
                    result[name] = section()
                except Exception as exc:  # noqa: BLE001 - one failed section must not hide the others' numbers
                    result[name] = {"error": f"{type(exc).__name__}: {exc}"}
    result["loadavg_end"] = os.getloadavg()[0]
    json.dump(result, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
