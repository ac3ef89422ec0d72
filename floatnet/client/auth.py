"""Authentication of API requests: Keystone tokens in ``X-Auth-Token``, renewed once when the server says 401.

A :data:`TokenSource` is ``token(refresh) -> str``; ``refresh=True`` asks for a new token after the server
refused the last one (expired or revoked). :class:`TokenAuth` plugs a source into httpx, so every request of a
client — the retries included — carries a current token. Keystone failures (unreachable, wrong password) become
:class:`~floatnet.client.errors.ApiError` with status 0, like an unreachable server.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from typing import Any

import httpx

from floatnet.client.errors import ApiError

TokenSource = Callable[[bool], str]  # token(refresh) -> a Keystone token; refresh=True after a 401


class TokenAuth(httpx.Auth):
    """``X-Auth-Token`` from ``tokens``; a 401 answer is retried once with a refreshed token."""

    def __init__(self, tokens: TokenSource) -> None:
        self.tokens = tokens

    def _token(self, refresh: bool) -> str:
        try:
            return self.tokens(refresh)
        except ApiError:
            raise
        except Exception as exc:  # keystoneauth raises its own hierarchy for an unreachable/refusing Keystone
            raise ApiError(f"keystone: {type(exc).__name__}: {exc}") from exc

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Auth-Token"] = self._token(False)
        response = yield request
        if response.status_code == 401:
            request.headers["X-Auth-Token"] = self._token(True)
            yield request


def session_tokens(session: Any) -> TokenSource:
    """The tokens of a keystoneauth ``Session`` (it caches a token and renews it before it expires)."""

    def token(refresh: bool = False) -> str:
        if refresh:
            session.invalidate()
        return str(session.get_token())

    return token


def keystone_tokens(options: Mapping[str, str]) -> TokenSource:
    """Tokens of the service user in ``[keystone_authtoken]`` (the server's own section: as Neutron's agents,
    the agent uses the service credentials)."""
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    auth = v3.Password(
        auth_url=options["auth_url"],
        username=options["username"],
        password=options["password"],
        project_name=options["project_name"],
        user_domain_name=options.get("user_domain_name", "Default"),
        project_domain_name=options.get("project_domain_name", "Default"),
    )
    return session_tokens(session.Session(auth=auth))
