"""Every failure is a Neutron error body with the right status — never a 500 for bad input."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.helpers import assert_error, network

UNKNOWN = "0b9bd2c5-9c39-4d4f-9b5b-6bd7a36a0c11"


@pytest.mark.parametrize(
    ("collection", "error_type"),
    [("networks", "NetworkNotFound"), ("subnets", "SubnetNotFound"), ("ports", "PortNotFound")],
)
def test_unknown_ids_are_404(app_client: Any, collection: str, error_type: str) -> None:
    for method in ("get", "delete"):
        assert_error(getattr(app_client, method)(f"/v2.0/{collection}/{UNKNOWN}"), 404, error_type, UNKNOWN)
    body = {collection[:-1]: {"name": "x"}}
    assert_error(app_client.put(f"/v2.0/{collection}/{UNKNOWN}", json=body), 404, error_type)


def test_unknown_path_and_method(app_client: Any) -> None:
    assert_error(app_client.get("/v2.0/widgets"), 404, "HTTPNotFound")
    assert_error(app_client.patch("/v2.0/networks"), 405, "HTTPMethodNotAllowed")


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"[1,2]", b'{"network": 3}', b'{"nothing": {}}', b"\xff\xfe"],
)
def test_malformed_bodies_are_400(app_client: Any, raw: bytes) -> None:
    response = app_client.post("/v2.0/networks", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["NeutronError"]["type"] in ("MalformedRequestBody", "HTTPBadRequest")


@pytest.mark.parametrize(
    ("attrs", "text"),
    [
        ({"bogus": 1}, "Unrecognized attribute(s) 'bogus'"),
        ({"admin_state_up": "maybe"}, "Invalid input for admin_state_up"),
        ({"name": 5}, "Invalid input for name"),
        ({"name": "x" * 256}, "exceeds maximum length of 255"),
        ({"mtu": "big"}, "Invalid input for mtu"),
        ({"provider:segmentation_id": [1]}, "Invalid input for provider:segmentation_id"),
    ],
)
def test_invalid_attributes(app_client: Any, attrs: dict[str, Any], text: str) -> None:
    assert_error(app_client.post("/v2.0/networks", json={"network": attrs}), 400, "HTTPBadRequest", text)


def test_read_only_on_update_and_bad_if_match(app_client: Any) -> None:
    net = network(app_client)
    url = f"/v2.0/networks/{net['id']}"
    assert_error(app_client.put(url, json={"network": {"tenant_id": "x"}}), 400, "HTTPBadRequest", "read-only")
    bad = app_client.put(url, json={"network": {"name": "y"}}, headers={"If-Match": "revision_number=abc"})
    assert_error(bad, 400, "HTTPBadRequest")


def test_bad_list_parameters(app_client: Any) -> None:
    assert_error(app_client.get("/v2.0/networks?limit=x"), 400, "HTTPBadRequest")
    assert_error(app_client.get("/v2.0/networks?limit=-1"), 400, "HTTPBadRequest")
    assert_error(app_client.get("/v2.0/networks?sort_key=name&sort_dir=up"), 400, "HTTPBadRequest")
    network(app_client)
    assert_error(app_client.get("/v2.0/networks?sort_key=nonsense"), 400, "HTTPBadRequest")


def test_extension_missing_is_404(app_client: Any) -> None:
    assert_error(app_client.get("/v2.0/extensions/not-a-thing"), 404, "ExtensionNotFound")
