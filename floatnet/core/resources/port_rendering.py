"""Rendering ports fast: one column tuple per port, fixed IPs, tags and DHCP options loaded in bulk.

Listing is the hot read path (agents and clients list hundreds of ports), so rows are read as plain
tuples of Core columns — timestamps and JSON as their stored text — and turned into Neutron's dicts in
one pass; fixed IPs and tags come from one query each, whatever the number of ports.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import Select, String, bindparam, select, type_coerce
from sqlalchemy.orm import Session

from floatnet.core.resources import port_security
from floatnet.core.service import fmt_time, load_dhcp_opts, load_tags, of_ids
from floatnet.db.models import IPAllocation, Port, table_of

PORTS = table_of(Port)
ALLOCS = table_of(IPAllocation)


def _raw(column: Any) -> Any:
    return type_coerce(column, String).label(column.name)


COLUMNS = (
    PORTS.c.id,
    PORTS.c.name,
    PORTS.c.description,
    PORTS.c.project_id,
    PORTS.c.status,
    PORTS.c.revision_number,
    _raw(PORTS.c.created_at),
    _raw(PORTS.c.updated_at),
    PORTS.c.network_id,
    PORTS.c.mac_address,
    PORTS.c.admin_state_up,
    PORTS.c.device_id,
    PORTS.c.device_owner,
    PORTS.c.port_security_enabled,
    PORTS.c.binding_host_id,
    PORTS.c.binding_vif_type,
    _raw(PORTS.c.binding_vif_details),
    PORTS.c.binding_vnic_type,
    _raw(PORTS.c.binding_profile),
    PORTS.c.dns_name,
)
NAMES = tuple(column.name for column in COLUMNS)
DNS_DOMAIN = "openstacklocal."  # Neutron's default [DEFAULT] dns_domain, the domain the networks' dnsmasq serve


def dns_assignment(dns_name: str, ips: list[dict[str, str]]) -> list[dict[str, str]]:
    """dns-integration's ``dns_assignment``: per fixed IP the host name the network's DHCP/DNS server gives it
    (the port's ``dns_name``, else ``host-<address with dashes>``) and its FQDN in :data:`DNS_DOMAIN`."""
    result = []
    for ip in ips:
        address = ip["ip_address"]
        hostname = dns_name or "host-" + address.replace(".", "-").replace(":", "-")
        fqdn = hostname if hostname.endswith(".") else f"{hostname}.{DNS_DOMAIN}"
        result.append({"ip_address": address, "hostname": hostname, "fqdn": fqdn})
    return result


def json_value(value: Any) -> Any:
    """A stored JSON column (text, or already decoded) as a Python value."""
    if value is None or value == "{}":
        return {}
    if isinstance(value, str | bytes):
        return orjson.loads(value)
    return value


def view_of(port: Port) -> tuple[Any, ...]:
    """An ORM port as the same tuple :data:`COLUMNS` selects."""
    return tuple(getattr(port, name) for name in NAMES)


def render(
    row: Sequence[Any],
    ips: list[dict[str, str]],
    tags: list[str],
    groups: list[str] | None = None,
    pairs: list[dict[str, str]] | None = None,
    opts: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One port tuple (in :data:`COLUMNS` order) as Neutron shows it (``groups``/``pairs``: its security
    groups and allowed address pairs; ``opts``: its extra DHCP options)."""
    (pid, name, desc, project, status, revision, created, updated, network_id, mac, admin, device_id, owner,
     security, host, vif_type, details, vnic, profile, dns) = row  # fmt: skip
    return {
        "id": pid,
        "name": name,
        "description": desc,
        "project_id": project,
        "tenant_id": project,
        "status": status,
        "revision_number": revision,
        "created_at": fmt_time(created),
        "updated_at": fmt_time(updated),
        "tags": tags,
        "network_id": network_id,
        "mac_address": mac,
        "admin_state_up": admin,
        "fixed_ips": ips,
        "device_id": device_id,
        "device_owner": owner,
        "port_security_enabled": security,
        "binding:host_id": host,
        "binding:vif_type": vif_type,
        "binding:vif_details": json_value(details),
        "binding:vnic_type": vnic,
        "binding:profile": json_value(profile),
        "dns_name": dns,
        "dns_assignment": dns_assignment(dns, ips),
        "allowed_address_pairs": pairs or [],
        "extra_dhcp_opts": opts or [],
        "security_groups": groups or [],
        "ip_allocation": "immediate",
        "propagate_uplink_status": False,
        "resource_request": None,
    }


IPS = select(ALLOCS.c.port_id, ALLOCS.c.subnet_id, ALLOCS.c.ip_address)
IPS_OF = IPS.where(ALLOCS.c.port_id.in_(bindparam("ids", expanding=True)))


def _ips(session: Session, ids: Any) -> dict[str, list[dict[str, str]]]:
    """Fixed IPs of the ports in ``ids`` (a list, or a SELECT of ids)."""
    result: dict[str, list[dict[str, str]]] = defaultdict(list)
    conn = session.connection()
    rows = (
        conn.execute(of_ids(IPS, ALLOCS.c.port_id, ids))
        if isinstance(ids, Select)
        else conn.execute(IPS_OF, {"ids": ids})
    )
    for port_id, subnet_id, address in rows.all():
        result[port_id].append({"subnet_id": subnet_id, "ip_address": address})
    return result


def _tags(session: Session, ids: Any) -> dict[str, list[str]]:
    return load_tags(session, "port", ids)


def render_rows(
    session: Session, rows: Sequence[Sequence[Any]], ids: Select[Any] | None = None
) -> list[dict[str, Any]]:
    """Render port tuples; ``ids`` (a SELECT of their ids) avoids binding thousands of parameters."""
    if not rows:
        return []
    wanted: Any = ids if ids is not None and len(rows) > 50 else [row[0] for row in rows]
    ips, tags = _ips(session, wanted), _tags(session, wanted)
    groups, pairs = port_security.attachments(session, wanted)
    opts = load_dhcp_opts(session, wanted)
    empty: list[Any] = []
    return [
        render(
            row, ips.get(row[0], empty) or [], tags.get(row[0], empty) or [], groups.get(row[0]), pairs.get(row[0]),
            opts.get(row[0]),
        )
        for row in rows
    ]  # fmt: skip


def select_ports() -> Select[Any]:
    """SELECT of the :data:`COLUMNS` of ports (add WHERE clauses, then :func:`fetch`)."""
    return select(*COLUMNS)


def fetch(session: Session, stmt: Select[Any]) -> list[dict[str, Any]]:
    """Run a :func:`select_ports` statement and render the ports."""
    rows = session.connection().execute(stmt).all()
    return render_rows(session, rows, stmt.with_only_columns(PORTS.c.id))
