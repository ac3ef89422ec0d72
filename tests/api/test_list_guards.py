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


def _sorted_by(client: Any, collection: str, key: str, headers: dict[str, str]) -> tuple[int, Any]:
    """(status, listed items or error type) of a list sorted by ``key``."""
    response = client.get(f"/v2.0/{collection}?sort_key={key}&sort_dir=asc", headers=headers)
    body = response.json()
    return response.status_code, body["NeutronError"]["type"] if "NeutronError" in body else body[collection]


def test_sorting_on_a_hidden_attribute_answers_as_an_unknown_one(app_client: Any) -> None:
    """Whether or not there is anything to list, a hidden sort key gets the very answer an unknown one gets:
    it reveals neither the attribute nor its values. The admin sorts on it."""
    hidden, unknown = "binding:profile", "no_such_attribute"
    assert _sorted_by(app_client, "ports", hidden, MEMBER) == _sorted_by(app_client, "ports", unknown, MEMBER)
    assert _sorted_by(app_client, "ports", hidden, MEMBER) == (200, [])
    net = network(app_client, headers=MEMBER)
    subnet(app_client, net["id"], "10.8.0.0/24", headers=MEMBER)
    port(app_client, net["id"], headers=MEMBER)
    for collection, key in (("ports", hidden), ("networks", "provider:network_type")):
        assert _sorted_by(app_client, collection, key, MEMBER) == _sorted_by(app_client, collection, unknown, MEMBER)
        refused = app_client.get(f"/v2.0/{collection}?sort_key={key}&sort_dir=asc", headers=MEMBER)
        assert_error(refused, 400, "HTTPBadRequest", f"{key} is invalid attribute for sort_key")
        assert _sorted_by(app_client, collection, key, {})[0] == 200


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


def test_show_takes_only_fields(app_client: Any) -> None:
    """A show ignores list parameters (Neutron reads only ``fields`` there), hostile ones included."""
    net = network(app_client, name="shown")
    shown = app_client.get(f"/v2.0/networks/{net['id']}?limit=99999999999999999999&sort_dir=up&fields=name")
    assert shown.status_code == 200, shown.text
    assert shown.json() == {"network": {"name": "shown"}}
