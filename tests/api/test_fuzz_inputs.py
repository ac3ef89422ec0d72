"""Odd values in every attribute of every core resource: always a 2xx or a 4xx Neutron error, never a 500."""

from __future__ import annotations

from typing import Any

import pytest

from floatnet.core.networks import SPEC as NETWORK_SPEC
from floatnet.core.ports import SPEC as PORT_SPEC
from floatnet.core.subnets import SPEC as SUBNET_SPEC
from tests.api.helpers import network, subnet

ODD_VALUES: list[Any] = [
    None,
    "",
    "x" * 300,
    -1,
    2**40,
    1.5,
    True,
    [],
    [None],
    [{"a": 1}],
    {},
    {"start": "10.0.0.5"},
    "10.0.0.999",
    "::1",
    "fe80::/200",
    "../../etc",
    "\u00e9\u0000",
]


def _base(app_client: Any, resource: str) -> dict[str, Any]:
    if resource == "network":
        return {}
    net = network(app_client)
    if resource == "subnet":
        return {"network_id": net["id"], "cidr": "10.0.0.0/24", "ip_version": 4}
    subnet(app_client, net["id"], "10.0.0.0/24", enable_dhcp=False)
    return {"network_id": net["id"]}


def _check(response: Any) -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert set(response.json()["NeutronError"]) == {"type", "message", "detail"}


@pytest.mark.parametrize(
    ("resource", "spec"), [("network", NETWORK_SPEC), ("subnet", SUBNET_SPEC), ("port", PORT_SPEC)]
)
def test_odd_values_never_500(app_client: Any, resource: str, spec: dict[str, Any]) -> None:
    base = _base(app_client, resource)
    created = app_client.post(f"/v2.0/{resource}s", json={resource: base})
    assert created.status_code == 201, created.text
    member = f"/v2.0/{resource}s/{created.json()[resource]['id']}"
    for attribute in spec:
        for value in ODD_VALUES:
            _check(app_client.post(f"/v2.0/{resource}s", json={resource: {**base, attribute: value}}))
            _check(app_client.put(member, json={resource: {attribute: value}}))
    for query in ("limit=abc", "marker=nope&limit=1", "sort_key=fixed_ips", "sort_key=tags", "fields=", "name=%00"):
        _check(app_client.get(f"/v2.0/{resource}s?{query}"))
