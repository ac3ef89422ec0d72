"""Issue 20 item 7: a web page cannot drive the noauth API (CSRF, DNS rebinding), real clients still can.

Every hostile request goes to a real listening server (``live_server``) and must leave the database unchanged.
The keystone-mode rules (Origin checked, Host not) run in-process on the guard itself.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from floatnet.api.guard import JUDGED_HOSTS, HostRule, RequestGuard, split_host
from floatnet.config import Config
from tests.api.helpers import assert_error

NETWORK = b'{"network": {"name": "csrf"}}'



def names(api: httpx.Client) -> list[str]:
    return sorted(net["name"] for net in api.get("/v2.0/networks").json()["networks"])


def own_host(api: httpx.Client) -> str:
    return f"127.0.0.1:{api.base_url.port}"


def refused(api: httpx.Client, status: int, kind: str, method: str = "POST", path: str = "/v2.0/networks",
            **kwargs: Any) -> None:  # fmt: skip
    """Send one hostile request; it must fail with ``status``/``kind`` and change nothing."""
    before = names(api)
    assert_error(api.request(method, path, **kwargs), status, kind)
    assert names(api) == before


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonx"],
)
def test_a_write_with_a_browser_form_media_type_is_refused(api: httpx.Client, content_type: str) -> None:
    refused(api, 415, "HTTPUnsupportedMediaType", content=NETWORK, headers={"Content-Type": content_type})


def test_a_write_with_a_body_and_no_content_type_is_refused(api: httpx.Client) -> None:
    refused(api, 415, "HTTPUnsupportedMediaType", content=NETWORK)


def test_the_issue_request_is_refused(api: httpx.Client) -> None:
    """text/plain + a foreign Origin + a foreign Host: the request a malicious page sends."""
    headers = {"Content-Type": "text/plain", "Origin": "http://evil.example", "Host": "evil.example"}
    refused(api, 403, "HTTPForbidden", content=NETWORK, headers=headers)


@pytest.mark.parametrize("origin", ["http://evil.example", "null", "http://127.0.0.1:1", "file://"])
def test_a_foreign_origin_is_refused_even_for_json(api: httpx.Client, origin: str) -> None:
    refused(api, 403, "HTTPForbidden", json={"network": {"name": "csrf"}}, headers={"Origin": origin})
    assert_error(api.get("/v2.0/networks", headers={"Origin": origin}), 403, "HTTPForbidden")


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "10.0.0.1:{port}", "a@b"])
def test_a_foreign_host_is_refused_in_noauth(api: httpx.Client, host: str) -> None:
    """DNS rebinding: the browser sends the attacker's name (or another port) in Host."""
    headers = {"Host": host.format(port=api.base_url.port)}
    refused(api, 403, "HTTPForbidden", json={"network": {"name": "csrf"}}, headers=headers)
    assert_error(api.get("/v2.0/networks", headers=headers), 403, "HTTPForbidden")


def test_a_refused_delete_deletes_nothing(api: httpx.Client) -> None:
    net = api.post("/v2.0/networks", json={"network": {"name": "keep"}}).json()["network"]
    path = f"/v2.0/networks/{net['id']}"
    refused(api, 403, "HTTPForbidden", "DELETE", path, headers={"Origin": "http://evil.example"})
    refused(api, 403, "HTTPForbidden", "DELETE", path, headers={"Host": "rebound.example"})
    refused(api, 415, "HTTPUnsupportedMediaType", "DELETE", path, headers={"Content-Type": "text/plain"})
    assert api.delete(path).status_code == 204


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "[::1]:{port}", "LOCALHOST:{port}"])
def test_loopback_names_and_the_own_origin_are_served(api: httpx.Client, host: str) -> None:
    own = host.format(port=api.base_url.port)
    headers = {"Host": own, "Origin": f"http://{own}", "Content-Type": "application/json; charset=utf-8"}
    created = api.post("/v2.0/networks", content=b'{"network": {"name": "ok"}}', headers=headers)
    assert created.status_code == 201, created.text
    net = created.json()["network"]
    tag = api.put(f"/v2.0/networks/{net['id']}/tags/blue")  # body-less write: no content type needed
    assert tag.status_code == 201, tag.text
    assert api.delete(f"/v2.0/networks/{net['id']}", headers={"Host": own}).status_code == 204


def test_rules_in_keystone_mode() -> None:
    """Keystone mode (tokens, not headers, make the caller): Origin still checked, any Host served."""

    async def hello(_request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    inner = Starlette(routes=[Route("/", hello, methods=["GET", "POST"])])
    guard = RequestGuard(inner, Config(auth_strategy="keystone"))
    with TestClient(guard, base_url="http://neutron.example:9696") as client:
        assert client.get("/").status_code == 200
        assert client.post("/", json={}, headers={"Origin": "http://neutron.example:9696"}).status_code == 200
        assert_error(client.get("/", headers={"Origin": "http://evil.example"}), 403, "HTTPForbidden")
        assert_error(client.post("/", content=b"{}", headers={"Content-Type": "text/plain"}), 415,
                     "HTTPUnsupportedMediaType")  # fmt: skip


def test_host_rule() -> None:
    loopback = HostRule("127.0.0.1", 9696)
    assert loopback.allows("localhost", 9696) and loopback.allows("::1", 9696)
    assert not loopback.allows("127.0.0.1", 80) and not loopback.allows("192.0.2.7", 9696)
    wildcard = HostRule("0.0.0.0", 9696)  # only with allow_insecure_noauth_on_network: IP literals, never names
    assert wildcard.allows("192.0.2.7", 9696) and wildcard.allows("2001:db8::1", 9696)
    assert not wildcard.allows("evil.example", 9696)
    assert split_host("[::1]:9696", 80) == ("::1", 9696) and split_host("Example", 80) == ("example", 80)
    assert split_host("h:port", 80) is None and split_host("h/x", 80) is None


def test_host_answers_are_remembered_within_a_bound() -> None:
    """Each (Host, scheme) is judged once; made-up Host values past the bound are still judged, never kept."""

    async def hello(_request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    guard = RequestGuard(Starlette(routes=[Route("/", hello)]), Config(bind_host="127.0.0.1", bind_port=9696))
    with TestClient(guard, base_url="http://127.0.0.1:9696") as client:
        for index in range(JUDGED_HOSTS * 2):
            assert_error(client.get("/", headers={"Host": f"evil{index}.example:9696"}), 403, "HTTPForbidden")
        assert client.get("/").status_code == 200 and client.get("/", headers={"Host": "localhost:9696"}).is_success
        assert_error(client.get("/", headers={"Host": "evil0.example:9696"}), 403, "HTTPForbidden")
    assert len(guard._judged) == JUDGED_HOSTS  # noqa: SLF001 - the bound is the point
