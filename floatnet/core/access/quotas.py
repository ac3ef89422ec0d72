"""Per-project quotas with Neutron's defaults, resource names and errors.

A project may own at most ``limit`` resources of each kind; ``-1`` means unlimited. Limits not set for a
project are Neutron's defaults (:data:`DEFAULTS`). :func:`check` runs inside the creating transaction, so on
SQLite (writes are serialised) the count it sees is exact; a create that would exceed the limit raises
``OverQuota`` (409) and nothing is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from floatnet.config import Config
from floatnet.core.context import RequestContext
from floatnet.core.errors import Conflict, HTTPBadRequest, OverQuota
from floatnet.core.numbers import DB_INTEGER_MAX, bounded_int
from floatnet.db.models import RESOURCE_MODELS, Quota, RbacPolicy, table_of
from floatnet.db.session import read_rows

DEFAULTS: dict[str, int] = {"network": 100, "subnet": 100, "port": 500, "router": 10, "floatingip": 50}
DEFAULTS |= {"security_group": 10, "security_group_rule": 100, "rbac_policy": 10}
# RBAC policies are counted per project like resources, though they are none (no standard attributes, no tags)
COUNTED = RESOURCE_MODELS | {"rbac_policy": RbacPolicy}
MODELS = {resource: COUNTED[resource] for resource in DEFAULTS}
UNLIMITED = -1
QUOTAS = table_of(Quota)
# Prebuilt Core statements: a create checks its quota on every request, so no ORM statement is built per call.
LIMITS_OF = select(QUOTAS.c.resource, QUOTAS.c.limit).where(QUOTAS.c.project_id == bindparam("project_id"))
LIMIT_OF = LIMITS_OF.with_only_columns(QUOTAS.c.limit).where(QUOTAS.c.resource == bindparam("resource"))
COUNTS = {
    resource: select(func.count()).select_from(table).where(table.c.project_id == bindparam("project_id"))
    for resource, table in ((name, table_of(model)) for name, model in MODELS.items())
}
CHECK_LIMIT = "check_limit"  # quota-check-limit: refuse a limit below the current usage


class InvalidQuotaValue(Conflict):
    """``check_limit`` was asked and a new limit is below what the project already uses."""

    message_template = "Change would make usage less than 0 for the following resources: %(unders)s."


def defaults(config: Config) -> dict[str, int]:
    """The limits a project without overrides gets: Neutron's defaults, overlaid with the ini file's
    ``[quotas] quota_<resource>``."""
    return {**DEFAULTS, **{name: limit for name, limit in config.quota_overrides.items() if name in DEFAULTS}}


def get(session: Session, config: Config, project_id: str) -> dict[str, int]:
    """The effective limits of ``project_id``: defaults overlaid with its stored overrides."""
    limits = defaults(config)
    rows = session.connection().execute(LIMITS_OF, {"project_id": project_id})
    limits.update({resource: limit for resource, limit in rows if resource in limits})
    return limits


def limit_of(session: Session, config: Config, project_id: str, resource: str) -> int:
    """The effective limit of one ``resource`` for ``project_id`` (one indexed lookup)."""
    stored = read_rows(session, LIMIT_OF, {"project_id": project_id, "resource": resource})
    if stored:
        return int(stored[0][0])
    return config.quota_overrides.get(resource, DEFAULTS[resource])


def usage(session: Session, project_id: str) -> dict[str, int]:
    """How many resources of each kind ``project_id`` owns now."""
    return {resource: usage_of(session, project_id, resource) for resource in MODELS}


def projects_with_overrides(session: Session) -> list[str]:
    """The projects that have at least one stored limit (``GET /v2.0/quotas`` lists these)."""
    return sorted(set(session.scalars(select(Quota.project_id))))


def _parse_limit(resource: str, value: Any) -> int:
    """A limit: an integer from -1 (unlimited) to the largest INTEGER the database stores (Neutron's
    ``type:range [-1, DB_INTEGER_MAX_VALUE]``); anything else is a 400 naming ``resource``."""
    return bounded_int(resource, value, UNLIMITED, DB_INTEGER_MAX)


def _parse_check_limit(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text not in ("true", "false", "1", "0"):
        raise HTTPBadRequest(msg=f"Invalid input for {CHECK_LIMIT}. Reason: '{value}' is not a valid boolean.")
    return text in ("true", "1")


def validate(limits: Mapping[str, Any]) -> dict[str, int]:
    """Parsed limits from a ``{"quota": {...}}`` body; unknown resources and bad numbers are a 400.

    ``check_limit`` (a boolean, as the ``openstack`` CLI always sends it) is validated but not returned.
    """
    unknown = sorted(set(limits) - set(DEFAULTS) - {CHECK_LIMIT})
    if unknown:
        raise HTTPBadRequest(msg=f"Unrecognized attribute(s) '{', '.join(unknown)}'")
    if CHECK_LIMIT in limits:
        _parse_check_limit(limits[CHECK_LIMIT])
    return {resource: _parse_limit(resource, value) for resource, value in limits.items() if resource != CHECK_LIMIT}


def set_limits(session: Session, config: Config, project_id: str, limits: Mapping[str, Any]) -> dict[str, int]:
    """Store ``limits`` for ``project_id`` (all validated first) and return its effective limits.

    With ``check_limit`` true, a limit below the project's current usage is a 409 ``InvalidQuotaValue``.
    """
    parsed = validate(limits)
    if _parse_check_limit(limits.get(CHECK_LIMIT, False)):
        used = usage(session, project_id)
        unders = sorted(name for name, limit in parsed.items() if limit != UNLIMITED and limit < used[name])
        if unders:
            raise InvalidQuotaValue(unders=unders)
    for resource, limit in parsed.items():
        row = session.get(Quota, (project_id, resource))
        if row is None:
            session.add(Quota(project_id=project_id, resource=resource, limit=limit))
        else:
            row.limit = limit
    session.flush()
    return get(session, config, project_id)


def reset(session: Session, project_id: str) -> None:
    """Forget every override of ``project_id`` (back to the defaults)."""
    session.execute(delete(Quota).where(Quota.project_id == project_id))


def check(
    session: Session,
    config: Config,
    ctx: RequestContext,
    resource: str,
    count: int = 1,
    project_id: str | None = None,
) -> None:
    """Raise ``OverQuota`` unless the owner may have ``count`` more ``resource`` (``config``: the server's
    default limits).

    The owner is ``project_id`` when given (an admin creating for another project), else the caller's project.
    Call it in the creating transaction, before writing.
    """
    owner = project_id or ctx.project_id
    limit = limit_of(session, config, owner, resource)
    if limit == UNLIMITED:
        return
    if usage_of(session, owner, resource) + count > limit:
        raise OverQuota(overs=[resource])


def usage_of(session: Session, project_id: str, resource: str) -> int:
    """How many ``resource`` rows ``project_id`` owns."""
    return int(read_rows(session, COUNTS[resource], {"project_id": project_id})[0][0] or 0)
