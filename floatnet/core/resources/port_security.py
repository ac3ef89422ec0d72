"""A port's security attributes: ``security_groups``, ``port_security_enabled`` and
``allowed_address_pairs``, with Neutron's rules (ML2's port-security processing).

* Create: with port security on and no ``security_groups`` given, the port gets its project's default group;
  with it off, groups are a 400 ``PortSecurityAndIPRequiredForSecurityGroups`` and address pairs a 409
  ``AddressPairAndPortSecurityRequired``. Ports of ``network:*`` owners (router, DHCP, floating IP) get no group.
* Groups must be visible to the caller and, unless an admin asks, belong to the port's project (404
  ``SecurityGroupNotFound`` otherwise); stateful and stateless groups do not mix on one port (409).
* Update: turning port security off keeps no group and no pair (409 ``PortSecurityPortHasSecurityGroup`` /
  ``AddressPairAndPortSecurityRequired``) unless the same request removes them.
* A pair is an IP or CIDR with an optional MAC (the port's by default); duplicates are a 400, at most 10.

Membership changes are logged for the networks whose hosts hold rules naming the groups as remote group.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from typing import Any

from sqlalchemy import Select, bindparam, delete, insert, select
from sqlalchemy.orm import Session

from floatnet.core.agent_protocol import changes
from floatnet.core.context import RequestContext
from floatnet.core.errors import HTTPBadRequest
from floatnet.core.resources import security_groups
from floatnet.core.service import of_ids
from floatnet.core.sg_errors import (
    AddressPairAndPortSecurityRequired,
    AllowedAddressPairExhausted,
    AllowedAddressPairsMissingIP,
    DuplicateAddressPairInRequest,
    PortSecurityAndIPRequiredForSecurityGroups,
    PortSecurityPortHasSecurityGroup,
    SecurityGroupConflict,
    SecurityGroupNotFound,
)
from floatnet.core.validation import mac_address, to_uuid, unique_list_of
from floatnet.db.models import AllowedAddressPair, SecurityGroupPortBinding, table_of

MAX_PAIRS = 10  # neutron's max_allowed_address_pair
BINDINGS = table_of(SecurityGroupPortBinding)
PAIRS = table_of(AllowedAddressPair)
INSERT_PAIRS = insert(PAIRS)
_uuids = unique_list_of(to_uuid)


def group_ids(value: Any) -> list[str]:
    """``security_groups``: a list of distinct UUIDs (``null`` = none, as Neutron converts it)."""
    return [] if value is None else _uuids(value)


def _pair_ip(value: Any) -> str:
    """An address, or a CIDR (host bits allowed, as netaddr keeps them), not multicast."""
    text = value if isinstance(value, str) else ""
    try:
        net = ipaddress.ip_interface(text).network if "/" in text else ipaddress.ip_address(text)
    except ValueError:
        raise HTTPBadRequest(msg=f"'{value}' is not a valid IP address") from None
    if net.is_multicast:
        raise HTTPBadRequest(msg=f"'{value}' is a multicast IP address")
    return str(ipaddress.ip_interface(text)) if "/" in text else str(net)


def address_pairs(value: Any) -> list[dict[str, Any]]:
    """``allowed_address_pairs`` as neutron-lib validates it (typed errors, not the generic 400)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise HTTPBadRequest(msg="Allowed address pairs must be a list.")
    if len(value) > MAX_PAIRS:
        raise AllowedAddressPairExhausted(quota=MAX_PAIRS)
    seen: set[tuple[Any, str]] = set()
    result = []
    for pair in value:
        if not isinstance(pair, dict):
            raise HTTPBadRequest(msg=f"Invalid input for allowed_address_pairs. Reason: '{pair}' is not a dictionary.")
        extra = sorted(set(pair) - {"mac_address", "ip_address"})
        if extra:
            raise HTTPBadRequest(msg=f"Unrecognized attribute(s) '{', '.join(extra)}'")
        if "ip_address" not in pair:
            raise AllowedAddressPairsMissingIP()
        mac = pair.get("mac_address")
        if (mac, str(pair["ip_address"])) in seen:
            raise DuplicateAddressPairInRequest(mac_address=mac, ip_address=pair["ip_address"])
        seen.add((mac, str(pair["ip_address"])))
        try:
            mac = None if mac is None else mac_address(mac)
        except ValueError as exc:
            raise HTTPBadRequest(msg=str(exc)) from None
        result.append({"ip_address": _pair_ip(pair["ip_address"]), "mac_address": mac})
    return result


def trusted(device_owner: str | None) -> bool:
    """Neutron's ``is_port_trusted``: ports the network itself owns get no security groups."""
    return bool(device_owner) and str(device_owner).startswith("network:")


def _check_groups(session: Session, ctx: RequestContext, project: str, wanted: list[str]) -> None:
    found = security_groups.groups_by_id(session, wanted)
    usable = {gid for gid, g in found.items() if ctx.owns(g.project_id) and (ctx.is_admin or g.project_id == project)}
    missing = [gid for gid in wanted if gid not in usable]
    if missing:
        raise SecurityGroupNotFound(id=", ".join(missing))
    if len({found[gid].stateful for gid in wanted}) > 1:
        reason = "Cannot apply both stateful and stateless security groups on the same port at the same time"
        raise SecurityGroupConflict(reason=reason)


def _bind(session: Session, port_id: str, wanted: list[str], replace: bool = True) -> None:
    """Bind the port to ``wanted`` (instead of its groups, with ``replace``): one INSERT for all the rows."""
    if replace:
        session.execute(delete(SecurityGroupPortBinding).where(SecurityGroupPortBinding.port_id == port_id))
    if wanted:
        rows = [{"port_id": port_id, "security_group_id": gid} for gid in wanted]
        session.connection().execute(security_groups.INSERT_BINDING, rows)


def _store_pairs(
    session: Session, port_id: str, mac: str, pairs: list[dict[str, Any]], replace: bool = True
) -> list[dict[str, str]]:
    """Store ``pairs`` (the port's MAC where none is given) instead of the port's; returns them as stored."""
    if replace:
        session.execute(delete(AllowedAddressPair).where(AllowedAddressPair.port_id == port_id))
    rows = [{"port_id": port_id, "ip_address": p["ip_address"], "mac_address": p["mac_address"] or mac} for p in pairs]
    if rows:
        session.connection().execute(INSERT_PAIRS, rows)
    return [{"ip_address": row["ip_address"], "mac_address": row["mac_address"]} for row in rows]


def on_create(
    session: Session, ctx: RequestContext, port: dict[str, Any], attrs: dict[str, Any]
) -> tuple[list[str], list[dict[str, str]]]:
    """Apply the security attributes of a port just inserted (``port``: its column values, ``attrs``: the
    request's validated attributes); returns its groups and address pairs, for rendering."""
    secured = port["port_security_enabled"]
    pairs = attrs.get("allowed_address_pairs") or []
    if pairs and not secured:
        raise AddressPairAndPortSecurityRequired()
    wanted = attrs.get("security_groups")
    if not secured and wanted:
        raise PortSecurityAndIPRequiredForSecurityGroups()
    if trusted(port["device_owner"]):
        groups = []
    elif secured and wanted is None:  # the project's own default group: no check, bound by one statement
        groups = [security_groups.bind_default(session, port["id"], port["project_id"])]
    else:
        groups = sorted(wanted or [])
        _check_groups(session, ctx, port["project_id"], groups)
        _bind(session, port["id"], groups, replace=False)
    _log_membership(session, groups)
    return groups, _store_pairs(session, port["id"], port["mac_address"], pairs, replace=False)


def on_update(session: Session, ctx: RequestContext, port: Any, attrs: dict[str, Any]) -> None:
    """Apply the security attributes of an update to ``port`` (the ORM row, already changed)."""
    before = current_groups(session, port.id)
    if not port.port_security_enabled:
        if attrs.get("allowed_address_pairs") or ("allowed_address_pairs" not in attrs and _has_pairs(session, port)):
            raise AddressPairAndPortSecurityRequired()
        if attrs.get("security_groups"):
            raise PortSecurityAndIPRequiredForSecurityGroups()
        if "security_groups" not in attrs and before:
            raise PortSecurityPortHasSecurityGroup()
    if "security_groups" in attrs and sorted(attrs["security_groups"]) != sorted(before):
        _check_groups(session, ctx, port.project_id, attrs["security_groups"])
        _bind(session, port.id, attrs["security_groups"])
        _log_membership(session, sorted(set(before) ^ set(attrs["security_groups"])))
    if "allowed_address_pairs" in attrs:
        _store_pairs(session, port.id, port.mac_address, attrs["allowed_address_pairs"])


def _has_pairs(session: Session, port: Any) -> bool:
    stmt = select(AllowedAddressPair.port_id).where(AllowedAddressPair.port_id == port.id).limit(1)
    return session.scalar(stmt) is not None


def current_groups(session: Session, port_id: str) -> list[str]:
    """The groups of one port."""
    stmt = select(SecurityGroupPortBinding.security_group_id).where(SecurityGroupPortBinding.port_id == port_id)
    return list(session.scalars(stmt))


def _log_membership(session: Session, changed: list[str]) -> None:
    """The port joined or left the ``changed`` groups: their member sets moved. One ``security_group`` row per
    group, without a network (the port's own network is woken by the port's row): naming every peer network
    would cost a scan of the group's members on every port create; an agent knows which groups its ports'
    rules name as remote group and refetches for those (as Neutron's member-updated fan-out)."""
    for group_id in changed:
        changes.fanned_out(session, "security_group", group_id, "update", [None])


def leave_groups(session: Session, port: Any) -> None:
    """A deleted port leaves its groups: wake the hosts whose remote-group sets held its addresses (its
    bindings and pairs go with the port row, ``ON DELETE CASCADE``)."""
    _log_membership(session, current_groups(session, port.id))


_BOUND = select(BINDINGS.c.port_id, BINDINGS.c.security_group_id).order_by(BINDINGS.c.security_group_id)
_PAIRS = select(PAIRS.c.port_id, PAIRS.c.ip_address, PAIRS.c.mac_address)
# built once (a port show renders through these on every request)
_BOUND_OF = _BOUND.where(BINDINGS.c.port_id.in_(bindparam("ids", expanding=True)))
_PAIRS_OF = _PAIRS.where(PAIRS.c.port_id.in_(bindparam("ids", expanding=True)))


def attachments(session: Session, ids: list[str] | Select[Any]) -> tuple[dict[str, list[str]], dict[str, list[Any]]]:
    """Groups and address pairs of many ports (two queries; ``ids``: a list or a SELECT of port ids)."""
    groups: dict[str, list[str]] = defaultdict(list)
    pairs: dict[str, list[dict[str, str]]] = defaultdict(list)
    conn = session.connection()
    if isinstance(ids, Select):
        bound = conn.execute(of_ids(_BOUND, BINDINGS.c.port_id, ids)).all()
        stored = conn.execute(of_ids(_PAIRS, PAIRS.c.port_id, ids)).all()
    else:
        bound, stored = conn.execute(_BOUND_OF, {"ids": ids}).all(), conn.execute(_PAIRS_OF, {"ids": ids}).all()
    for port_id, group_id in bound:
        groups[port_id].append(group_id)
    for port_id, ip_address, mac in stored:
        pairs[port_id].append({"ip_address": ip_address, "mac_address": mac})
    return groups, pairs
