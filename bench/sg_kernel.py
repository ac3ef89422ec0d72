"""The kernel half of bench/security_groups.py: floatnet's change cost vs a Neutron-style baseline (root).

One scratch namespace holds ``ports`` port filters in ``groups`` groups (each port in one of them, and every
port also in ``default``, whose ingress rule admits its own members: a remote group of ``ports`` members),
installed with the renderer the agent uses. Then, per change, the kernel work measured with the calls the
agent makes (:mod:`floatnet.linux.port_filter`):

* ``member_add``: one port joins ``default`` — floatnet: one set element (``add_members``); baseline: the same
  element plus every port whose group references ``default`` re-rendered (Neutron's iptables/ipset driver
  refreshes each affected port's chains on a member update).
* ``rule_add``: a rule added to one group of ``ports / groups`` ports — floatnet: that group's two chains
  replaced (``replace_group``); baseline: the chains of every port in the group re-rendered with the group's
  rules inline.

The baseline lives in its own table (``inet sgbaseline``: per-port chains ``p<n>-in`` holding their groups'
rules, remote groups as sets) so both are measured in the same namespace with the same nft.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from typing import Any

from convergence import percentiles

from floatnet.linux import netns, nft, port_filter
from floatnet.linux import sg_render as r

DEFAULT = "default"
BASE = "sgbaseline"


def _group(index: int) -> str:
    return f"g{index:03d}"


def _port(index: int) -> str:
    return f"port{index:05d}"


def _address(index: int) -> str:
    return str(ipaddress.IPv4Address("10.128.0.0") + index + 2)


def _group_rules(group: str, extra: int = 0) -> r.GroupRules:
    """``group``'s rules: SSH and HTTP from anywhere, ``extra`` more TCP ports (the rule being added)."""
    ports = [22, 80, *range(10000, 10000 + extra)]
    return r.GroupRules(group, tuple(r.Rule("ingress", "IPv4", "tcp", p, p, "0.0.0.0/0") for p in ports))


DEFAULT_RULES = r.GroupRules(DEFAULT, (r.Rule("ingress", "IPv4", remote_group_id=DEFAULT), r.Rule("egress")))


class KernelWorld:
    """The scratch namespace with both tables installed (see the module docstring)."""

    def __init__(self, ns: str, ports: int, groups: int) -> None:
        self.ns, self.ports, self.groups = ns, ports, groups
        self.rules = {_group(g): _group_rules(_group(g)) for g in range(groups)}
        lines = [*r.skeleton(), *r.group_lines(DEFAULT_RULES)]
        lines += [x for g in self.rules.values() for x in r.group_lines(g)]
        for i in range(ports):
            port = r.PortFilter(_port(i), i + 1, f"02:00:00:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
                                (_address(i),), groups=(DEFAULT, self._group_of(i)))  # fmt: skip
            lines += r.port_lines(port)
        self._apply(lines, "install floatnet")
        port_filter.add_members(ns, DEFAULT, [_address(i) for i in range(ports)])
        base = [f"add table inet {BASE}", *self._base_sets()]
        for i in range(ports):
            base += self._base_chain(i, self.rules[self._group_of(i)])
        self._apply(base, "install baseline")

    def _group_of(self, index: int) -> str:
        return _group(index % self.groups)

    def _apply(self, lines: list[str], what: str) -> None:
        nft.run(self.ns, "\n".join(lines) + "\n", what)

    def _base_sets(self) -> list[str]:
        members = ", ".join(_address(i) for i in range(self.ports))
        return [f"add set inet {BASE} {r.group_set(DEFAULT, 4)} {{ type ipv4_addr; elements = {{ {members} }} }}"]

    def _base_chain(self, index: int, group: r.GroupRules) -> list[str]:
        """One port's ingress chain with its groups' rules inline (what Neutron renders per port)."""
        chain = f"inet {BASE} p{index}-in"
        rules = ["ct state established,related accept", "ct state invalid drop"]
        rules += [r.rule_text(x) for g in (DEFAULT_RULES, group) for x in g.rules if x.direction == "ingress"]
        return [f"add chain {chain}", f"flush chain {chain}", *(f"add rule {chain} {x}" for x in [*rules, "drop"])]

    # ---- the changes, each with its undo ----

    def member_add(self, new: str) -> None:
        port_filter.add_members(self.ns, DEFAULT, [new])

    def member_remove(self, new: str) -> None:
        port_filter.remove_members(self.ns, DEFAULT, [new])

    def base_member_add(self, new: str) -> None:
        lines = [f"add element inet {BASE} {r.group_set(DEFAULT, 4)} {{ {new} }}"]
        for i in range(self.ports):  # every port is in a group whose rule references DEFAULT
            lines += self._base_chain(i, self.rules[self._group_of(i)])
        self._apply(lines, "baseline member")

    def base_member_remove(self, new: str) -> None:
        self._apply([f"delete element inet {BASE} {r.group_set(DEFAULT, 4)} {{ {new} }}"], "baseline member")

    def rule_add(self, extra: int) -> None:
        port_filter.replace_group(self.ns, _group_rules(_group(0), extra))

    def base_rule_add(self, extra: int) -> None:
        group = _group_rules(_group(0), extra)
        lines = [x for i in range(0, self.ports, self.groups) for x in self._base_chain(i, group)]
        self._apply(lines, "baseline rule")


def _timed(change: Callable[[], None], undo: Callable[[], None], rounds: int) -> dict[str, Any]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        change()
        times.append(time.perf_counter() - start)
        undo()
    return percentiles(times)


def measure(prefix: str, ports: int, groups: int, rounds: int) -> dict[str, Any]:
    """The ``kernel`` section of the JSON document (see the module docstring)."""
    ns = f"{prefix}-k"
    netns.ensure(ns)
    try:
        started = time.monotonic()
        world = KernelWorld(ns, ports, groups)
        setup = round(time.monotonic() - started, 1)
        new = _address(ports + 1)
        base_rounds = max(3, rounds // 5)
        return {
            "ports": ports, "groups": groups, "remote_group_members": ports, "setup_seconds": setup,
            "member_add_ms": {
                "floatnet": _timed(lambda: world.member_add(new), lambda: world.member_remove(new), rounds),
                "neutron_style_baseline": _timed(lambda: world.base_member_add(new),
                                                 lambda: world.base_member_remove(new), base_rounds),
                "target": "floatnet p99 <= 2 ms (agent kernel work)",
            },
            "rule_add_ms": {
                "floatnet": _timed(lambda: world.rule_add(1), lambda: world.rule_add(0), rounds),
                "neutron_style_baseline": _timed(lambda: world.base_rule_add(1), lambda: world.base_rule_add(0),
                                                 rounds),
                "ports_in_group": len(range(0, ports, groups)),
            },
        }  # fmt: skip
    finally:
        nft.forget(ns)
        netns.delete(ns)
