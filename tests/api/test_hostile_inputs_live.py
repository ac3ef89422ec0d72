"""Issue 20 items 5, 6 and 9 (filters, feed cursor) sent to a real listening server, on one keep-alive
connection: each hostile request is a 400 Neutron error naming the attribute (or, for hidden attributes, an
answer that reveals nothing), and the connection survives every one of them (a 500 used to reset it).
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.api.helpers import project

MEMBER = project("p-member")
BIG = 99999999999999999999


class KeepAlive:
    """One HTTP/1.1 connection to the server; every request must come back on the same socket."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        self.conn.connect()
        self.sock = self.conn.sock

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        """Send one request, return ``(status, parsed body)``; fail if the server closed the connection."""
        sent = {"Content-Type": "application/json", **(headers or {})}
        payload = None if body is None else json.dumps(body)
        self.conn.request(method, path, body=payload, headers=sent)
        response = self.conn.getresponse()
        raw = response.read()
        assert response.getheader("connection", "").lower() != "close", (method, path, raw)
        assert self.conn.sock is self.sock, f"connection was reset after {method} {path}"
        return response.status, (json.loads(raw) if raw else None)


@pytest.fixture
def conn(live_server: str) -> Iterator[KeepAlive]:
    client = KeepAlive(live_server)
    yield client
    client.conn.close()


def _bad_request(result: tuple[int, Any], naming: str) -> None:
    status, body = result
    assert status == 400, body
    error = body["NeutronError"]
    assert set(error) == {"type", "message", "detail"}
    assert naming in error["message"], error


@pytest.mark.parametrize(
    ("path", "naming"),
    [
        (f"/v2.0/ports?limit={BIG}", "limit"),
        (f"/v2.0/networks?limit={BIG}", "limit"),
        ("/v2.0/ports?limit=-1", "limit"),
        ("/v2.0/networks?admin_state_up=maybe", "admin_state_up"),
        ("/v2.0/networks?mtu=abc", "mtu"),
        (f"/v2.0/networks?mtu={BIG}", "mtu"),
        (f"/v2.0/networks?provider:segmentation_id={BIG}", "provider:segmentation_id"),
        ("/v2.0/subnets?ip_version=four", "ip_version"),
        ("/v2.0/subnets?enable_dhcp=2", "enable_dhcp"),
        ("/v2.0/ports?port_security_enabled=yes-please", "port_security_enabled"),
        ("/v2.0/routers?revision_number=1.5", "revision_number"),
        ("/v2.0/agents?alive=perhaps", "alive"),
        ("/v2.0/floatnet/hosts/h1/changes?since=abc", "since"),
        (f"/v2.0/floatnet/hosts/h1/changes?after={BIG}", "after"),
        ("/v2.0/floatnet/hosts/h1/changes?after=%C2%B2", "after"),
    ],
)
def test_bad_numbers_and_typed_filters_are_400(conn: KeepAlive, path: str, naming: str) -> None:
    _bad_request(conn.request("GET", path), naming)
    assert conn.request("GET", "/v2.0/networks")[0] == 200  # and the same connection still serves


@pytest.mark.parametrize("value", [9223372036854775808, 2**70, -2, 2**31, "12abc", 1.5, True])
def test_quota_values_out_of_range_are_400(conn: KeepAlive, value: Any) -> None:
    status, body = conn.request("PUT", "/v2.0/quotas/p-quota", {"quota": {"port": value}})
    _bad_request((status, body), "port")
    assert "e+" not in body["NeutronError"]["message"]  # 2**70 is shown as an integer, never as a float
    assert conn.request("GET", "/v2.0/quotas/p-quota")[1]["quota"]["port"] == 500


@pytest.mark.parametrize(
    ("resource", "attrs", "naming"),
    [
        ("network", {"mtu": 2**70}, "mtu"),
        ("network", {"provider:network_type": "vxlan", "provider:segmentation_id": 2**64}, "segmentation_id"),
        ("subnet", {"cidr": "10.9.0.0/24", "ip_version": 2**70}, "ip_version"),
        ("subnet", {"cidr": "10.9.0.0/99999999999999999999", "ip_version": 4}, "cidr"),
    ],
)
def test_huge_integer_attributes_are_400(conn: KeepAlive, resource: str, attrs: dict[str, Any], naming: str) -> None:
    if resource == "subnet":
        status, created = conn.request("POST", "/v2.0/networks", {"network": {"name": "huge-ints"}})
        assert status == 201, created
        attrs = {**attrs, "network_id": created["network"]["id"]}
    status, body = conn.request("POST", f"/v2.0/{resource}s", {resource: attrs})
    _bad_request((status, body), naming)
    assert "e+" not in body["NeutronError"]["message"]  # huge integers stay integers


def test_hidden_attributes_neither_filter_nor_sort(conn: KeepAlive) -> None:
    """A member cannot find an admin's shared VLAN network by its segmentation id, nor sort by a hidden
    attribute (the answers are those of an unknown attribute); the admin still can."""
    body = {"name": "vlan-102", "shared": True, "provider:network_type": "vlan"}
    body |= {"provider:physical_network": "public_eth1", "provider:segmentation_id": 102}
    status, created = conn.request("POST", "/v2.0/networks", {"network": body})
    assert status == 201, created
    net_id = created["network"]["id"]
    visible = conn.request("GET", "/v2.0/networks?name=vlan-102", headers=MEMBER)[1]["networks"]
    assert [net["id"] for net in visible] == [net_id]  # shared: the member sees the network itself
    for value in ("102", "103"):  # the right and a wrong VLAN answer the same: nothing
        found = conn.request("GET", f"/v2.0/networks?provider:segmentation_id={value}", headers=MEMBER)
        assert found == (200, {"networks": []})
    assert conn.request("GET", "/v2.0/networks?provider:segmentation_id=102")[1]["networks"][0]["id"] == net_id
    for key in ("provider:segmentation_id", "provider:network_type"):  # the member lists the shared network
        path = f"/v2.0/networks?sort_key={key}&sort_dir=asc"
        _bad_request(conn.request("GET", path, headers=MEMBER), f"{key} is invalid attribute for sort_key")
        assert conn.request("GET", path)[0] == 200
    unknown = conn.request("GET", "/v2.0/ports?sort_key=no_such_attribute&sort_dir=asc", headers=MEMBER)
    assert conn.request("GET", "/v2.0/ports?sort_key=binding:host_id&sort_dir=asc", headers=MEMBER) == unknown
