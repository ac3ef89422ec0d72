"""The security-group actions of a plan (executed by :mod:`floatnet.agent.sg_handlers` through
:mod:`floatnet.linux.port_filter`). Groups and members are node-wide (action group ``sg:<group id>``); a
port's filter belongs to the port's group ``port:<id>``, with its tag: :class:`ReplacePortFilter` *gates* that
group — when it fails, the port's tag is not set (fail closed: never forward unfiltered)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from floatnet.agent.actions import Action
from floatnet.linux.sg_render import GroupRules, PortFilter, Rule


def sg_group(group_id: str) -> str:
    """The action group of a security group's chains and member set."""
    return f"sg:{group_id}"


@dataclass(frozen=True, kw_only=True)
class ReplaceGroup(Action):
    """Install or replace one group's two chains (its ports jump to them and are not touched)."""

    rules: GroupRules


@dataclass(frozen=True, kw_only=True)
class DeleteGroup(Action):
    """Remove a group no port on the node uses any more (its chains and member sets)."""

    group_id: str


@dataclass(frozen=True, kw_only=True)
class EditMembers(Action):
    """Remote-group membership: one set element per address added or removed, nothing re-rendered."""

    group_id: str
    add: frozenset[str] = frozenset()
    remove: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class CutRules(Action):
    """Delete the conntrack entries the removed ``rules`` admitted on ``ports`` (the group's filtered ports
    here, with their zones): a removed rule must end the sessions it let in, as in Neutron."""

    rules: tuple[Rule, ...]
    ports: tuple[PortFilter, ...]


@dataclass(frozen=True, kw_only=True)
class ReplacePortFilter(Action):
    """Install or replace one port's anti-spoofing and stateful chains; gates the port's tag."""

    gates: ClassVar[bool] = True
    port: PortFilter


@dataclass(frozen=True, kw_only=True)
class DeletePortFilter(Action):
    """Remove a port's filter and cut its zone's conntrack entries (port gone, or port security off)."""

    port_id: str
    zone: int
