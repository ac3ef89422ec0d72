"""keystonemiddleware in front of an ASGI app, against the real test Keystone: tokens become contexts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from floatnet.api.auth import STATE_KEY
from floatnet.api.keystone import KeystoneAuth, KeystoneMiddleware
from tests.keystone_fixture import KeystoneServer


def _whoami(request: Request) -> JSONResponse:
    ctx = request.scope[STATE_KEY]
    return JSONResponse(
        {
            "project_id": ctx.project_id,
            "user_id": ctx.user_id,
            "roles": sorted(ctx.roles),
            "is_admin": ctx.is_admin,
        }
    )


@pytest.fixture(scope="module")
def client(keystone: KeystoneServer) -> Iterator[TestClient]:
    app = Starlette(routes=[Route("/", _whoami), Route("/v2.0/whoami", _whoami)])
    auth = KeystoneAuth(keystone.authtoken_options())
    with TestClient(KeystoneMiddleware(app, auth)) as test_client:
        yield test_client


def token(keystone: KeystoneServer, user: str) -> str:
    creds = keystone.credentials(user)
    auth = v3.Password(**creds)
    return str(ks_session.Session(auth=auth).get_token())


def test_member_token_gives_its_project_user_and_roles(keystone: KeystoneServer, client: TestClient) -> None:
    answer = client.get("/v2.0/whoami", headers={"X-Auth-Token": token(keystone, "alice")})
    assert answer.status_code == 200
    body = answer.json()
    assert body["project_id"] == keystone.ids["project:alpha"]
    assert body["user_id"] == keystone.ids["user:alice"]
    assert "member" in body["roles"] and "reader" in body["roles"]
    assert body["is_admin"] is False


def test_admin_token_is_admin(keystone: KeystoneServer, client: TestClient) -> None:
    body = client.get("/v2.0/whoami", headers={"X-Auth-Token": token(keystone, "admin")}).json()
    assert body["project_id"] == keystone.ids["project:admin"]
    assert body["is_admin"] is True


def test_spoofed_identity_headers_are_ignored(keystone: KeystoneServer, client: TestClient) -> None:
    headers = {
        "X-Auth-Token": token(keystone, "bob"),
        "X-Project-Id": keystone.ids["project:alpha"],
        "X-Roles": "admin",
        "X-Identity-Status": "Confirmed",
    }
    body = client.get("/v2.0/whoami", headers=headers).json()
    assert body["project_id"] == keystone.ids["project:beta"]
    assert body["is_admin"] is False


@pytest.mark.parametrize("headers", [{}, {"X-Auth-Token": "not-a-token"}, {"X-Roles": "admin"}])
def test_missing_or_invalid_token_is_401_with_keystone_uri(
    keystone: KeystoneServer, client: TestClient, headers: dict[str, str]
) -> None:
    answer = client.get("/v2.0/whoami", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == 401
    assert answer.headers["www-authenticate"] == f'Keystone uri="{keystone.url}"'


def test_version_document_needs_no_token(client: TestClient) -> None:
    answer = client.get("/")
    assert answer.status_code == 200
    assert answer.json()["is_admin"] is False
