"""Attribute validation: Neutron's messages for unknown, read-only, missing and malformed attributes."""

from __future__ import annotations

from typing import Any

import pytest

from floatnet.core import validation as v
from floatnet.core.errors import HTTPBadRequest

SPEC = {
    "name": v.Attr(v.string(8), default=""),
    "size": v.Attr(v.to_int(1, 10), put=False, required=True),
    "on": v.Attr(v.to_bool, default=True),
    "made": v.Attr(v.string(), post=False),
}


def message(body: Any, creating: bool = True) -> str:
    with pytest.raises(HTTPBadRequest) as info:
        v.validate("thing", SPEC, body, creating)
    return info.value.message


def test_defaults_and_conversion() -> None:
    assert v.validate("thing", SPEC, {"size": "3", "on": "false"}, True) == {
        "name": "",
        "size": 3,
        "on": False,
    }
    assert v.validate("thing", SPEC, {"name": "n"}, False) == {"name": "n"}


def test_messages() -> None:
    assert message({"size": 1, "zz": 1, "aa": 2}) == "Unrecognized attribute(s) 'aa, zz'"
    assert message({}) == "Failed to parse request. Required attribute 'size' not specified"
    assert message({"size": 11}) == "Invalid input for size. Reason: '11' is not in the range 1 through 10."
    assert message({"size": 1, "made": "x"}) == "Attribute 'made' not allowed in POST"
    assert message({"size": 2}, creating=False) == "Cannot update read-only attribute size"
    assert "exceeds maximum length of 8" in message({"size": 1, "name": "123456789"})
    assert message([1]) == "Resource body required for thing"


@pytest.mark.parametrize(
    ("convert", "good", "expected"),
    [
        (v.to_bool, "True", True),
        (v.to_bool, 0, False),
        (v.mac_address, "FA-16-3E-00-00-0A", "fa:16:3e:00:00:0a"),
        (v.ip_address, "2001:DB8::1", "2001:db8::1"),
        (v.cidr, "10.0.0.0/8", "10.0.0.0/8"),
        (v.to_uuid, "6A0E2BD6-0C1F-4D5E-9A3E-7BDF0AD0C0AA", "6a0e2bd6-0c1f-4d5e-9a3e-7bdf0ad0c0aa"),
        (v.nullable(v.ip_address), None, None),
        (v.unique_list_of(v.ip_address), ["192.0.2.1", "192.0.2.2"], ["192.0.2.1", "192.0.2.2"]),
    ],
)
def test_converters_accept(convert: Any, good: Any, expected: Any) -> None:
    assert convert(good) == expected


@pytest.mark.parametrize(
    ("convert", "bad"),
    [
        (v.to_bool, "maybe"),
        (v.to_bool, 2),
        (v.to_int(), True),
        (v.to_int(), 1.5),
        (v.mac_address, "ff:ff:ff:ff:ff:ff"),
        (v.mac_address, "00:00:00:00:00:00"),
        (v.ip_address, "300.1.1.1"),
        (v.cidr, "10.0.0.1/8"),
        (v.cidr, "10.0.0.0"),
        (v.to_uuid, "nope"),
        (v.to_uuid, 5),
        (v.string(), None),
        (v.unique_list_of(v.ip_address), ["192.0.2.1", "192.0.2.1"]),
        (v.dict_with({"a": v.string()}, ("a",)), {}),
        (v.dict_with({"a": v.string()}), {"b": "x"}),
    ],
)
def test_converters_refuse(convert: Any, bad: Any) -> None:
    with pytest.raises(ValueError):
        convert(bad)
