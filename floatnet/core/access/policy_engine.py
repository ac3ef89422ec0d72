"""Evaluate Neutron's policy (:mod:`floatnet.core.access.policy_rules`) with oslo.policy and operator overrides.

The engine answers three questions the way Neutron's API layer asks them:

- may this caller perform ``<action>_<resource>`` on this target (:meth:`PolicyEngine.allowed`),
- which attribute rule, if any, refuses what a create/update writes (:meth:`PolicyEngine.refused_write`; on
  create an attribute counts only when given a non-default value, on update whenever it is in the request),
- which attributes must be hidden from this caller (:meth:`PolicyEngine.filter_fields`).

Turning a refusal into 404 or 403 is the caller's job (:mod:`floatnet.core.access.policy`): Neutron answers 404
when the caller may not even see the resource.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol

from oslo_config import cfg
from oslo_policy import policy

from floatnet.config import ConfigError
from floatnet.core.access import policy_rules

# Values an attribute has when a create request does not mention it: writing them needs no attribute rule.
CREATE_DEFAULTS: dict[str, object] = {
    "shared": False,
    "router:external": False,
    "is_default": False,
    "port_security_enabled": True,
    "binding:vnic_type": "normal",
    "device_owner": "",
    "ha": False,
    "distributed": False,
}
_UNSET: Any = object()
_RULE_REF = re.compile(r"rule:([^\s()]+)")
CACHE_SIZE = 10_000
TARGET_KEY_SIZE = 8  # targets of up to this many attributes are cached by value
RELOAD_INTERVAL = 1.0  # seconds between two looks at the policy file (oslo.policy looks on every check)


class PolicyFileError(ConfigError):
    """The operator's policy file is missing or does not parse."""


class Caller(Protocol):
    """What the policy needs to know about the caller (floatnet's request context has these)."""

    @property
    def project_id(self) -> str: ...

    @property
    def user_id(self) -> str: ...

    @property
    def roles(self) -> Iterable[str]: ...

    @property
    def is_admin(self) -> bool: ...


# Keystone's default implied roles (``keystone-manage bootstrap``): admin ⇒ member ⇒ reader. Keystone tokens
# already list the implied roles; noauth callers (``X-Roles: member``) get them here so the rules read the same.
IMPLIED_ROLES = {"admin": ("member", "reader"), "member": ("reader",)}


def expand_roles(roles: Iterable[str]) -> list[str]:
    """``roles`` (lower-cased) plus the roles they imply, without duplicates, in order."""
    names = [role.lower() for role in roles]
    for role in list(names):
        names.extend(IMPLIED_ROLES.get(role, ()))
    return list(dict.fromkeys(names))


def credentials(caller: Caller) -> dict[str, Any]:
    """The oslo.policy credentials of a caller (``tenant_id`` too, for Neutron-era rules)."""
    return {
        "project_id": caller.project_id,
        "tenant_id": caller.project_id,
        "user_id": caller.user_id,
        "roles": expand_roles(caller.roles),
        "is_admin": caller.is_admin,
    }


def _lookup(body: Mapping[str, Any], path: str) -> object:
    """The value at ``path`` (``router:external``, ``fixed_ips:ip_address``, ``external_gateway_info:ha``).

    Attribute names themselves contain ``:``, so each split point is tried; a list is searched item by item.
    Returns ``_UNSET`` when absent.
    """
    if path in body:
        return body[path]
    parts = path.split(":")
    for cut in range(1, len(parts)):
        head, rest = ":".join(parts[:cut]), ":".join(parts[cut:])
        inner = body.get(head)
        items = inner if isinstance(inner, list) else [inner]
        for item in items:
            if isinstance(item, Mapping):
                found = _lookup(item, rest)
                if found is not _UNSET:
                    return found
    return _UNSET


def _target_key(target: Mapping[str, Any]) -> tuple[tuple[str, str | None], ...] | None:
    """A hashable form of a small target whose values are all strings (or None), else None (not cached).

    Only strings: a rule compares the target's values as text, and ``True == 1`` would merge two keys.
    """
    if len(target) > TARGET_KEY_SIZE:
        return None
    items = tuple(target.items())
    return items if all(value is None or type(value) is str for _, value in items) else None


class ThrottledEnforcer(policy.Enforcer):
    """An oslo.policy Enforcer that looks for policy file changes at most every :data:`RELOAD_INTERVAL`.

    oslo.policy calls :meth:`load_rules` on every ``enforce``, which searches the config directories and
    stats the policy file: most of the cost of a check. An edited file still takes effect (within the
    interval); :attr:`generation` grows whenever the loaded rules change, so decision caches can be dropped.
    """

    generation = 0
    _checked_at = float("-inf")
    _seen: list[tuple[str, Any]] | None = None

    def load_rules(self, force_reload: bool = False) -> None:
        now = time.monotonic()
        if not force_reload and now - self._checked_at < RELOAD_INTERVAL:
            return
        super().load_rules(force_reload)
        self._checked_at = now
        current = [*self.rules.items()]
        if not _same_rules(self._seen, current):
            self._seen, self.generation = current, self.generation + 1


def _same_rules(before: list[tuple[str, Any]] | None, after: list[tuple[str, Any]]) -> bool:
    """Whether two snapshots of an enforcer's rules hold the same names bound to the very same checks."""
    if before is None or len(before) != len(after):
        return False
    return all(a[0] == b[0] and a[1] is b[1] for a, b in zip(before, after, strict=True))


class PolicyEngine:
    """Neutron's default rules in an oslo.policy Enforcer, with the operator's ``policy_file`` on top."""

    def __init__(self, policy_file: str | None = None) -> None:
        conf = cfg.ConfigOpts()
        conf([], project="floatnet", default_config_files=[], default_config_dirs=[])
        path = ""
        if policy_file:
            resolved = Path(policy_file).expanduser().resolve()
            if not resolved.is_file():
                raise PolicyFileError(f"[oslo_policy] policy_file = {policy_file!r}: no such file")
            path = str(resolved)
        # use_conf: oslo.policy only merges the registered defaults while loading the (optional) file.
        self.enforcer = ThrottledEnforcer(conf, policy_file=path or None, use_conf=True)
        self.enforcer.register_defaults(policy_rules.list_rules())
        try:
            self.enforcer.load_rules()
        except Exception as error:  # oslo.policy raises parser errors of several kinds
            raise PolicyFileError(f"[oslo_policy] policy_file = {policy_file!r}: {error}") from error
        self._generation = -1
        self._attribute_rules: dict[str, list[tuple[str, str]]] = {}
        self._target_free: dict[str, bool] = {}
        self._cache: dict[tuple[object, ...], bool] = {}
        self._filters: dict[tuple[object, ...], Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self._refresh()

    def _refresh(self) -> None:
        """Re-derive the per-rule indexes and drop cached decisions if the loaded rules changed."""
        self.enforcer.load_rules()
        if self._generation == self.enforcer.generation:
            return
        attribute_rules: dict[str, list[tuple[str, str]]] = {}
        for name in dict.fromkeys([*self.enforcer.registered_rules, *self.enforcer.rules]):
            action, sep, attribute = name.partition(":")
            if sep:
                attribute_rules.setdefault(action, []).append((attribute, name))
        self._attribute_rules = attribute_rules
        self._target_free = {name: not self._reads_target(name, set()) for name in self.enforcer.rules}
        self._cache = {}
        self._filters = {}
        self._generation = self.enforcer.generation

    def _reads_target(self, name: str, seen: set[str]) -> bool:
        """Whether rule ``name`` (or a rule it references) looks at the target."""
        text = str(self.enforcer.rules.get(name, ""))
        if "%(" in text or "field:" in text:
            return True
        seen.add(name)
        return any(self._reads_target(ref, seen) for ref in _RULE_REF.findall(text) if ref not in seen)

    def _allowed_cached(self, creds: dict[str, Any], rule: str, target: Mapping[str, Any]) -> bool:
        """:meth:`allowed`, remembered per caller and per target (see :func:`_target_key`).

        Rendering a list of 1,000 ports asks the same ``get_port:binding:*`` questions 4,000 times; every
        update asks ``update_<resource>`` on a ``{project_id}`` target. The cache is dropped when the policy
        file's rules change (see :class:`ThrottledEnforcer`).
        """
        self._refresh()
        target_key = () if self._target_free.get(rule) else _target_key(target)
        if target_key is None:
            return self.allowed(creds, rule, target)
        key = (rule, creds["project_id"], creds["user_id"], tuple(creds["roles"]), creds.get("is_admin"), target_key)
        answer = self._cache.get(key)
        if answer is None:
            if len(self._cache) > CACHE_SIZE:
                self._cache.clear()
            answer = self._cache[key] = self.allowed(creds, rule, target if target_key else {})
        return answer

    def attribute_rules(self, action: str) -> list[tuple[str, str]]:
        """``(attribute path, rule name)`` of every rule guarding one attribute of ``action``."""
        return self._attribute_rules.get(action, [])

    def decide(self, caller: Caller, rule: str, target: Mapping[str, Any]) -> bool:
        """:meth:`allowed`, with the decision remembered when ``rule`` ignores the target."""
        return self._allowed_cached(credentials(caller), rule, target)

    def allowed(self, caller: Caller | Mapping[str, Any], rule: str, target: Mapping[str, Any]) -> bool:
        """Whether ``rule`` passes for ``caller`` (a context or ready credentials) on ``target``."""
        creds = dict(caller) if isinstance(caller, Mapping) else credentials(caller)
        try:
            return bool(self.enforcer.enforce(rule, dict(target), creds))
        except policy.InvalidScope:
            return False

    def is_admin(self, project_id: str, user_id: str, roles: Iterable[str]) -> bool:
        """Neutron's ``context_is_admin``: whether the roles (``admin`` by default) make an administrator."""
        creds = {"project_id": project_id, "tenant_id": project_id, "user_id": user_id, "roles": expand_roles(roles)}
        return self._allowed_cached(creds, "context_is_admin", {})

    def refused_write(
        self, caller: Caller, action: str, body: Mapping[str, Any], target: Mapping[str, Any]
    ) -> str | None:
        """The first attribute rule of ``action`` that refuses what ``body`` sets, or None."""
        creds = credentials(caller)
        creating = action.startswith("create_")
        for attribute, rule in self.attribute_rules(action):
            value = _lookup(body, attribute)
            if value is _UNSET or (creating and (value is None or CREATE_DEFAULTS.get(attribute, _UNSET) == value)):
                continue
            if not self._allowed_cached(creds, rule, target):
                return rule
        return None

    def field_filter(self, caller: Caller, resource: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """A function giving a ``resource`` body without the attributes whose ``get_<resource>:<attribute>``
        rule refuses ``caller`` (the same dict when nothing is hidden).

        Made once per caller and resource until the policy file's rules change (every response of a request
        renders through one): the caller's credentials and the rules that ignore the target are decided
        then, so rendering a list of 1,000 ports evaluates per item only the rules that read the item."""
        self._refresh()
        key = (resource, caller.project_id, caller.user_id, tuple(caller.roles), caller.is_admin)
        found = self._filters.get(key)
        if found is None:
            if len(self._filters) > CACHE_SIZE:
                self._filters.clear()
            found = self._filters[key] = self._new_filter(credentials(caller), resource)
        return found

    def _new_filter(self, creds: dict[str, Any], resource: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        hidden_always: list[str] = []
        per_item: list[tuple[str, str]] = []
        for attribute, rule in self.attribute_rules(f"get_{resource}"):
            if not self._target_free.get(rule):
                per_item.append((attribute, rule))
            elif not self._allowed_cached(creds, rule, {}):
                hidden_always.append(attribute)

        def keep(body: dict[str, Any]) -> dict[str, Any]:
            hidden = {a for a in hidden_always if a in body}
            hidden |= {a for a, rule in per_item if a in body and not self._allowed_cached(creds, rule, body)}
            return {key: value for key, value in body.items() if key not in hidden} if hidden else body

        return keep

    def filter_fields(self, caller: Caller, resource: str, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` without the attributes whose ``get_<resource>:<attribute>`` rule refuses ``caller``."""
        return self.field_filter(caller, resource)(body)
