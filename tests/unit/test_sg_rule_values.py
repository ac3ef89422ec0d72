"""Security group rule values: Neutron's converters, normalisation and duplicate key (pure logic)."""

from __future__ import annotations

from typing import Any

import pytest

from floatnet.core import sg_errors
from floatnet.core.resources import sg_rule_values as values


def _rule(**attrs: Any) -> dict[str, Any]:
    base: dict[str, Any] = dict.fromkeys(values.RULE_KEYS)
    base |= {"direction": "ingress", "ethertype": "IPv4", "security_group_id": "g"}
    return {**base, **attrs}


@pytest.mark.parametrize(("given", "expected"), [(None, None), ("any", None), ("TCP", "tcp"), (6, "6"), ("0", "0")])
def test_protocol(given: Any, expected: Any) -> None:
    assert values.protocol(given) == expected


@pytest.mark.parametrize("given", ["bogus", 256, -1, True, 1.5, {}])
def test_protocol_refused(given: Any) -> None:
    with pytest.raises(sg_errors.SecurityGroupRuleInvalidProtocol):
        values.protocol(given)


def test_ports_and_prefix() -> None:
    assert values.port("22") == 22 and values.port(None) is None
    for bad in (-1, 65536, "x", True, [1]):
        with pytest.raises(sg_errors.SecurityGroupInvalidPortValue):
            values.port(bad)
    assert values.ip_prefix("10.0.0.5") == "10.0.0.5/32" and values.ip_prefix("::/0") == "::/0"
    assert values.normalized_cidr("10.0.0.5/24") == "10.0.0.0/24"
    with pytest.raises(sg_errors.InvalidCIDR):
        values.ip_prefix("10.0.0.0/33")


def test_duplicate_key_equates_names_numbers_and_any_prefixes() -> None:
    by_name = values.rule_key(_rule(protocol="tcp", port_range_min=22, port_range_max=22))
    by_number = values.rule_key(_rule(protocol="6", port_range_min=22, port_range_max=22, remote_ip_prefix="0.0.0.0/0"))
    assert by_name == by_number
    assert values.rule_key(_rule(protocol="udp")) != values.rule_key(_rule(protocol="tcp"))
    legacy = values.rule_key(_rule(ethertype="IPv6", protocol="icmpv6"))
    assert legacy == values.rule_key(_rule(ethertype="IPv6", protocol="58"))


def test_normalize_applies_neutrons_order() -> None:
    assert values.normalize(_rule(ethertype="IPv6", protocol="1"))["protocol"] == "58"
    full = values.normalize(_rule(protocol="tcp", port_range_min=1, port_range_max=65535))
    assert full["port_range_min"] is None and full["port_range_max"] is None
    assert values.normalize(_rule(protocol="icmp", port_range_min=0))["port_range_max"] is None
    with pytest.raises(sg_errors.SecurityGroupMultipleRemoteEntites):
        values.normalize(_rule(remote_ip_prefix="10.0.0.0/8", remote_group_id="g"))
