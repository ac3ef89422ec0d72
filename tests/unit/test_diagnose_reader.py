"""diagnose's own transport (``http_getter``) over an httpx.Client, with httpx.MockTransport: pure logic.

It hands the raw status and body to :class:`NeutronReader` (which parses errors itself), and turns "no answer"
— a refused connection, a failing credentials source — into the API hop's failure instead of a traceback.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import httpx
import pytest

from floatnet.diagnose.reader import ApiReadError, NeutronReader, http_getter

BASE = "http://neutron.test:9696/v2.0"


def getter(handler: httpx.MockTransport, **options: Any) -> NeutronReader:
    return NeutronReader(http_getter(httpx.Client(base_url=BASE, transport=handler, **options)))


def test_answers_pass_through_raw_and_errors_are_parsed_by_the_reader() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path.endswith("/floatingips/gone"):
            return httpx.Response(404, json={"NeutronError": {"type": "FloatingIPNotFound", "message": "gone"}})
        if request.url.path.endswith("/agents"):
            return httpx.Response(503, text="<html>proxy</html>")
        return httpx.Response(200, json={"ports": [{"id": "p", "device_id": "r", "device_owner": "o"}]})

    reader = getter(httpx.MockTransport(handle))
    assert reader.show("floatingip", "gone") is None
    assert reader.router_ports("r", "o") == [{"id": "p", "device_id": "r", "device_owner": "o"}]
    assert str(seen[-1].url) == f"{BASE}/ports?device_id=r&device_owner=o"
    with pytest.raises(ApiReadError) as failed:
        reader.agents()
    assert failed.value.status == 503 and failed.value.message == "<html>proxy</html>"


def test_no_answer_is_the_api_hops_failure_naming_the_endpoint() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    with pytest.raises(ApiReadError) as failed:
        getter(httpx.MockTransport(refuse)).agents()
    assert failed.value.status == 0 and failed.value.message == f"cannot connect to {BASE}"
    assert "floatnet server" in failed.value.fix


def test_a_failing_credentials_source_is_the_api_hops_failure_too() -> None:
    class Broken(httpx.Auth):
        def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
            raise RuntimeError("keystone: Unauthorized")
            yield request  # a generator, as httpx wants, that fails before sending

    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"agents": []}))
    with pytest.raises(ApiReadError) as failed:
        getter(transport, auth=Broken()).agents()
    assert failed.value.status == 0 and failed.value.message == "RuntimeError: keystone: Unauthorized"
