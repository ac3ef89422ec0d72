"""The shared HTTP client (floatnet.client) against httpx.MockTransport: pure request/answer logic.

Error parsing (Neutron's body, odd bodies, no answer), retries (transport errors and 5xx only), the v2.0 base
URL, pagination, name-or-id lookup and the authentication headers (fixed token, Keystone tokens renewed once on
a 401, a failing Keystone). The agent's client is a thin user of it: its 410 → ChangesExpired mapping too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from floatnet.agent.client import ChangesExpired, ServerError
from floatnet.agent.client import Client as AgentClient
from floatnet.client import ApiError, Client, TokenAuth

Handler = Callable[[httpx.Request], httpx.Response]
NOT_FOUND = {"NeutronError": {"type": "NetworkNotFound", "message": "Network x could not be found.", "detail": "d"}}


def client(handler: Handler, **options: Any) -> Client:
    return Client("http://neutron.test:9696", transport=httpx.MockTransport(handler), backoff=0, **options)


def recorder(*answers: httpx.Response) -> tuple[list[httpx.Request], Handler]:
    """A handler answering ``answers`` in turn (the last one repeated) and recording every request."""
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answers[min(len(seen), len(answers)) - 1]

    return seen, handle


def test_neutron_error_becomes_one_exception_with_status_type_message_detail() -> None:
    seen, handle = recorder(httpx.Response(404, json=NOT_FOUND))
    with pytest.raises(ApiError) as caught:
        client(handle).show("network", "x")
    error = caught.value
    assert (error.status, error.type, error.message, error.detail) == (404, "NetworkNotFound", NOT_FOUND[
        "NeutronError"]["message"], "d")
    assert error.request == "GET /networks/x"
    assert str(error) == "GET /networks/x: 404 NetworkNotFound: Network x could not be found."
    assert str(seen[0].url) == "http://neutron.test:9696/v2.0/networks/x"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (httpx.Response(409, json={"NeutronError": "plain text error"}), "plain text error"),
        (httpx.Response(400, json={"message": "proxy says no"}), "proxy says no"),
        (httpx.Response(400, text="<html>bad</html>"), "<html>bad</html>"),
        (httpx.Response(403), "HTTP 403"),
    ],
)
def test_odd_error_bodies_still_give_a_message(answer: httpx.Response, message: str) -> None:
    with pytest.raises(ApiError) as caught:
        client(recorder(answer)[1]).call("GET", "/networks")
    assert (caught.value.status, caught.value.type, caught.value.message) == (answer.status_code, "", message)


def test_no_answer_is_status_0_naming_the_endpoint() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ApiError) as caught:
        client(refuse).call("GET", "/networks")
    assert caught.value.status == 0
    assert caught.value.message == "Unable to establish connection to http://neutron.test:9696/v2.0"


def test_5xx_and_transport_errors_are_retried_4xx_never() -> None:
    seen, handle = recorder(httpx.Response(503), httpx.Response(500), httpx.Response(200, json={"ok": 1}))
    assert client(handle, retries=2).call("GET", "/networks") == {"ok": 1} and len(seen) == 3
    seen, handle = recorder(httpx.Response(503))
    with pytest.raises(ApiError) as caught:
        client(handle, retries=2).call("GET", "/networks")
    assert caught.value.status == 503 and len(seen) == 3
    seen, handle = recorder(httpx.Response(404, json=NOT_FOUND))
    with pytest.raises(ApiError):
        client(handle, retries=5).call("GET", "/networks/x")
    assert len(seen) == 1
    calls = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(204)

    assert client(flaky, retries=1).call("DELETE", "/ports/p") is None and len(calls) == 2


def test_body_params_and_versioned_base_url() -> None:
    seen, handle = recorder(httpx.Response(201, json={"port": {"id": "p1", "name": "vm1"}}))
    api = Client("http://h:9696/v2.0/", transport=httpx.MockTransport(handle))
    assert api.create("port", {"binding:host_id": "node1"}, name="vm1") == {"id": "p1", "name": "vm1"}
    assert str(seen[0].url) == "http://h:9696/v2.0/ports"
    assert json.loads(seen[0].content) == {"port": {"binding:host_id": "node1", "name": "vm1"}}
    assert seen[0].headers["Accept"] == "application/json" and "X-Auth-Token" not in seen[0].headers


def test_list_follows_pagination_links_and_repeats_list_filters() -> None:
    pages = {
        "": {"networks": [{"id": "a"}], "networks_links": [{"rel": "next", "href": "http://h/v2.0/networks?marker=a"}]},
        "marker=a": {"networks": [{"id": "b"}], "networks_links": [{"rel": "previous", "href": "…"}]},
    }
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=pages["marker=a" if "marker" in str(request.url) else ""])

    rows = Client("http://h", transport=httpx.MockTransport(handle)).list("network", id=["a", "b"], shared="false")
    assert [row["id"] for row in rows] == ["a", "b"]
    assert seen[0].url.params.get_list("id") == ["a", "b"] and seen[0].url.params["shared"] == "false"
    assert str(seen[1].url) == "http://h/v2.0/networks?marker=a"


def test_find_by_id_then_by_name_none_or_several() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path != "/v2.0/networks":
            return httpx.Response(404, json=NOT_FOUND)
        name = request.url.params["name"]
        count = {"one": 1, "two": 2}.get(name, 0)
        return httpx.Response(200, json={"networks": [{"id": f"{name}-{i}"} for i in range(count)]})

    api = Client("http://h", transport=httpx.MockTransport(handle))
    assert api.find_id("network", "one") == "one-0"
    with pytest.raises(ApiError) as none:
        api.find("network", "zero")
    assert none.value.status == 404 and none.value.message == "Unable to find network with name or id 'zero'"
    with pytest.raises(ApiError) as several:
        api.find("network", "two")
    assert several.value.status == 409 and several.value.message.endswith("more specific: two-0, two-1")


def test_fixed_token_header() -> None:
    seen, handle = recorder(httpx.Response(200, json={}))
    client(handle, token="t0k3n").call("GET", "/networks")
    assert seen[0].headers["X-Auth-Token"] == "t0k3n"


def test_keystone_token_is_renewed_once_after_a_401() -> None:
    asked: list[bool] = []

    def tokens(refresh: bool) -> str:
        asked.append(refresh)
        return "fresh" if refresh else "stale"

    sent: list[tuple[str, bytes]] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append((request.headers["X-Auth-Token"], request.content))
        return httpx.Response(401) if len(sent) == 1 else httpx.Response(201, json={"network": {"id": "n"}})

    assert client(handle, tokens=tokens).create("network", name="n") == {"id": "n"}
    assert [token for token, _ in sent] == ["stale", "fresh"] and asked == [False, True]
    assert sent[0][1] == sent[1][1] == b'{"network":{"name":"n"}}'  # the body is sent again
    seen, handle = recorder(httpx.Response(401))
    with pytest.raises(ApiError) as refused:
        client(handle, tokens=tokens, retries=3).call("GET", "/networks")
    assert refused.value.status == 401 and len(seen) == 2  # one renewal, and a 4xx is never retried


def test_a_failing_keystone_is_an_api_error_without_answer() -> None:
    def broken(refresh: bool) -> str:
        raise ConnectionRefusedError("keystone down")

    seen, handle = recorder(httpx.Response(200, json={}))
    with pytest.raises(ApiError) as caught:
        client(handle, tokens=broken, retries=3).call("GET", "/networks")
    assert caught.value.status == 0 and caught.value.message == "keystone: ConnectionRefusedError: keystone down"
    assert seen == [] and isinstance(TokenAuth(broken), httpx.Auth)


def test_agent_client_maps_410_to_changes_expired_and_speaks_below_floatnet_hosts() -> None:
    gone = {"NeutronError": {"type": "ChangesExpired", "message": "cursor 3 expired", "detail": ""}}
    seen, handle = recorder(httpx.Response(410, json=gone), httpx.Response(400, json=NOT_FOUND))
    agent = AgentClient("http://h:9696", "node1", retries=0)
    agent.api = Client("http://h:9696", transport=httpx.MockTransport(handle))  # the same client, mocked answers
    with pytest.raises(ChangesExpired) as expired:
        agent.changes(after=3, timeout=0)
    assert isinstance(expired.value, ServerError) and expired.value.error_type == "ChangesExpired"
    assert str(seen[0].url) == "http://h:9696/v2.0/floatnet/hosts/node1/changes?after=3&timeout=0"
    with pytest.raises(ServerError) as refused:
        agent.state()
    assert refused.value.status == 400 and not isinstance(refused.value, ChangesExpired)
