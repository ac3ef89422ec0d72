"""The request context: who is asking. The one place identity lives (noauth headers today, Keystone later)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

DEFAULT_PROJECT = "admin"


def _request_id() -> str:
    return f"req-{uuid.uuid4()}"


@dataclass(frozen=True)
class Context:
    """The caller's project, user and roles; ``is_admin`` lifts project scoping."""

    project_id: str
    user_id: str = ""
    roles: tuple[str, ...] = ()
    is_admin: bool = False
    request_id: str = field(default_factory=_request_id)

    @classmethod
    def admin(cls, project_id: str = DEFAULT_PROJECT) -> Context:
        """An administrator of ``project_id`` (noauth without headers, internal work)."""
        return cls(project_id=project_id, roles=("admin",), is_admin=True)

    def owns(self, project_id: str) -> bool:
        """Whether a resource of ``project_id`` belongs to the caller (admins own everything)."""
        return self.is_admin or project_id == self.project_id
