"""The request context: who is asking, and by which rules. The one place identity lives (noauth headers or
Keystone tokens, turned into a :class:`RequestContext` by the API)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PROJECT = "admin"


def _request_id() -> str:
    return f"req-{uuid.uuid4()}"


@dataclass(frozen=True)
class RequestContext:
    """The caller's project, user and roles; ``is_admin`` lifts project scoping.

    ``policy`` is the policy engine that judges this caller (a
    :class:`floatnet.core.access.policy_engine.PolicyEngine`): the API hands every request its own app's
    engine, so two servers in one process each answer by their own policy file. ``None`` (a context built
    outside any server, e.g. in a unit test) means Neutron's default rules.
    """

    project_id: str
    user_id: str = ""
    roles: tuple[str, ...] = ()
    is_admin: bool = False
    request_id: str = field(default_factory=_request_id)
    policy: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def admin(cls, project_id: str = DEFAULT_PROJECT) -> RequestContext:
        """An administrator of ``project_id`` (noauth without headers, internal work)."""
        return cls(project_id=project_id, roles=("admin",), is_admin=True)

    def owns(self, project_id: str) -> bool:
        """Whether a resource of ``project_id`` belongs to the caller (admins own everything)."""
        return self.is_admin or project_id == self.project_id
