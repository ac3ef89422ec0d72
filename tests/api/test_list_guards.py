"""List queries checked per resource and caller (floatnet.api.listing): typed filter values are converted as
Neutron converts them, and attributes hidden by policy can be neither filtered nor sorted on."""

from __future__ import annotations

from typing import Any

import pytest

from floatnet.api.http import parse_json
from floatnet.core.errors import HTTPBadRequest, MalformedRequestBody
from floatnet.core.numbers import bounded_int
from tests.api.helpers import assert_error, network, port, project, subnet

MEMBER = project("p-guard")


def _ids(response: Any, collection: str) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()[collection]]


def test_boolean_filters_take_neutrons_spellings(app_client: Any) -> None:
    up, down = network(app_client, name="up"), network(app_client, name="down", admin_state_up=False)
    for spelling in ("true", "True", "1"):
        assert _ids(app_client.get(f"/v2.0/networks?admin_state_up={spelling}"), "networks") == [up["id"]]
    for spelling in ("false", "FALSE", "0"):
        assert _ids(app_client.get(f"/v2.0/networks?admin_state_up={spelling}"), "networks") == [down["id"]]
    both = _ids(app_client.get("/v2.0/networks?admin_state_up="), "networks")  # empty values are dropped
    assert sorted(both) == sorted([up["id"], down["id"]])
    assert_error(app_client.get("/v2.0/networks?admin_state_up=maybe"), 400, "HTTPBadRequest", "admin_state_up")


def test_integer_filters_compare_numbers(app_client: Any) -> None:
    net = network(app_client, mtu=1400)
    assert _ids(app_client.get("/v2.0/networks?mtu=01400"), "networks") == [net["id"]]
    assert _ids(app_client.get("/v2.0/networks?mtu=1500"), "networks") == []
    assert_error(app_client.get("/v2.0/networks?mtu=14.5"), 400, "HTTPBadRequest", "mtu")
    assert_error(app_client.get("/v2.0/networks?revision_number=x"), 400, "HTTPBadRequest", "revision_number")


def test_member_cannot_filter_its_own_ports_by_hidden_binding_host(app_client: Any) -> None:
    """``binding:host_id`` is pushed down to SQL for admins; for a member it must not be (it would reveal the
    host its own port is bound to)."""
    net = network(app_client, headers=MEMBER)
    subnet(app_client, net["id"], "10.7.0.0/24", headers=MEMBER)
    mine = port(app_client, net["id"], headers=MEMBER)
    bind = app_client.put(f"/v2.0/ports/{mine['id']}", json={"port": {"binding:host_id": "compute-7"}})
    assert bind.status_code == 200, bind.text
    for host in ("compute-7", "compute-8"):
        assert _ids(app_client.get(f"/v2.0/ports?binding:host_id={host}", headers=MEMBER), "ports") == []
    assert _ids(app_client.get("/v2.0/ports?binding:host_id=compute-7"), "ports") == [mine["id"]]
    assert mine["id"] in _ids(app_client.get("/v2.0/ports?binding:vnic_type=normal", headers=MEMBER), "ports")


def test_sorting_on_a_hidden_attribute_is_an_unknown_sort_key(app_client: Any) -> None:
    for path in ("/v2.0/networks?sort_key=provider:network_type", "/v2.0/ports?sort_key=binding:profile"):
        # even with nothing to list, so the answer does not depend on what exists
        assert_error(app_client.get(path, headers=MEMBER), 400, "HTTPBadRequest", "invalid attribute for sort_key")
        assert app_client.get(path).status_code == 200


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("12", None),
        (" 7 ", None),
        (-3, "too small - must be at least '-1'"),
        (2**31, "too large - must be no larger than '2147483647'"),
        ("9" * 5000, "is not an integer"),
        (True, "is not an integer"),
        (1.0, "is not an integer"),
        (None, "is not an integer"),
        ("x" * 1000, "..."),
    ],
)
def test_bounded_int(value: Any, reason: str | None) -> None:
    if reason is None:
        assert bounded_int("n", value, -1) == int(value)
        return
    with pytest.raises(HTTPBadRequest) as raised:
        bounded_int("n", value, -1)
    assert "Invalid input for n." in str(raised.value) and reason in str(raised.value)
    assert len(str(raised.value)) < 200


def test_parse_json_keeps_big_integers_and_refuses_the_rest() -> None:
    assert parse_json(b'{"a": [1.5, 1180591620717411303424]}') == {"a": [1.5, 2**70]}
    assert parse_json(b'{"a": 18446744073709551615}') == {"a": 2**64 - 1}
    nested_with_float = b"[" * 1020 + b"1.5" + b"]" * 1020
    for raw in (b"[NaN]", b'"\\ud800"', b"[" * 5000 + b"]" * 5000, nested_with_float, b"1" * 5000):
        with pytest.raises(MalformedRequestBody):
            parse_json(raw)
