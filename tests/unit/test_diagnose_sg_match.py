"""Neutron's rule-matching semantics as ``floatnet diagnose`` applies them (pure; no server, no kernel)."""

from __future__ import annotations

from typing import Any

import pytest

from floatnet.diagnose.sg_match import (
    QueryError,
    Traffic,
    fix_command,
    make_traffic,
    protocol_number,
    rule_admits,
    rule_label,
)

SSH = make_traffic("203.0.113.1", "tcp", 22)
PING = make_traffic("203.0.113.1", "icmp")


def rule(**attrs: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"direction": "ingress", "ethertype": "IPv4", "protocol": None, "port_range_min": None,
                            "port_range_max": None, "remote_ip_prefix": None, "remote_group_id": None}  # fmt: skip
    return base | attrs


def admits(r: dict[str, Any], traffic: Traffic = SSH, members: dict[str, list[str]] | None = None) -> bool:
    return rule_admits(r, traffic, members or {})


def test_null_attributes_mean_any() -> None:
    assert admits(rule())
    assert admits(rule(), PING)


def test_direction_and_ethertype_must_match() -> None:
    assert not admits(rule(direction="egress"))
    assert not admits(rule(ethertype="IPv6"))
    assert admits(rule(ethertype="IPv6"), make_traffic("2001:db8::1", "tcp", 22))


@pytest.mark.parametrize("protocol", ["tcp", "TCP", "6", 6])
def test_protocol_by_name_or_number(protocol: Any) -> None:
    assert admits(rule(protocol=protocol, port_range_min=22, port_range_max=22))
    assert not admits(rule(protocol=protocol), make_traffic("203.0.113.1", "udp", 22))


def test_port_ranges() -> None:
    assert admits(rule(protocol="tcp", port_range_min=20, port_range_max=30))
    assert not admits(rule(protocol="tcp", port_range_min=23, port_range_max=30))
    assert admits(rule(protocol="tcp", port_range_min=22, port_range_max=None))
    assert not admits(rule(protocol="tcp", port_range_min=80, port_range_max=None))
    assert admits(rule(protocol="tcp"))


def test_icmp_type_and_code_in_the_port_fields() -> None:
    assert admits(rule(protocol="icmp"), PING)
    assert admits(rule(protocol="icmp", port_range_min=8), PING)
    assert admits(rule(protocol="icmp", port_range_min=8, port_range_max=0), PING)
    assert not admits(rule(protocol="icmp", port_range_min=8, port_range_max=1), PING)
    assert not admits(rule(protocol="icmp", port_range_min=0), PING)
    assert not admits(rule(protocol="icmp"), SSH)


def test_icmp_on_an_ipv6_rule_is_icmpv6() -> None:
    ping6 = make_traffic("2001:db8::1", "ipv6-icmp")
    assert ping6.icmp_type == 128
    assert admits(rule(ethertype="IPv6", protocol="icmp"), ping6)
    assert admits(rule(ethertype="IPv6", protocol="1", port_range_min=128), ping6)
    assert protocol_number("icmp", "IPv6") == 58


def test_remote_ip_prefix() -> None:
    assert admits(rule(remote_ip_prefix="203.0.113.0/24"))
    assert admits(rule(remote_ip_prefix="0.0.0.0/0"))
    assert admits(rule(remote_ip_prefix="203.0.113.1/32"))
    assert not admits(rule(remote_ip_prefix="198.51.100.0/24"))
    assert not admits(rule(remote_ip_prefix="::/0"))


def test_remote_group_membership_fixed_ips_and_address_pairs() -> None:
    r = rule(remote_group_id="g1")
    assert not admits(r)
    assert admits(r, members={"g1": ["10.0.0.5", "203.0.113.1"]})
    assert admits(r, members={"g1": ["203.0.113.0/28"]})
    assert not admits(r, members={"g2": ["203.0.113.1"]})


def test_a_remote_address_group_is_never_assumed_to_admit() -> None:
    assert not admits(rule(remote_address_group_id="ag1"))


def test_make_traffic_refuses_what_cannot_exist() -> None:
    with pytest.raises(QueryError, match="unknown protocol"):
        make_traffic("203.0.113.1", "tcpp")
    with pytest.raises(QueryError, match="--port"):
        make_traffic("203.0.113.1", "icmp", 22)
    with pytest.raises(QueryError, match="--port"):
        make_traffic("203.0.113.1", "tcp", 70000)
    with pytest.raises(QueryError, match="not an IP"):
        make_traffic("upstream", "tcp", 22)
    with pytest.raises(QueryError, match="icmp"):
        make_traffic("203.0.113.1", "udp", 53, icmp_type=3)
    assert make_traffic("203.0.113.1", "47").label() == "gre"


def test_labels_and_fix_command() -> None:
    assert SSH.label() == "tcp/22" and PING.label() == "icmp type 8 code 0"
    assert fix_command("default", SSH) == (
        "floatnet security-group-rule-create --direction ingress --protocol tcp --port-range-min 22 "
        "--port-range-max 22 --remote-ip-prefix 203.0.113.1/32 default"
    )
    assert "--protocol icmp --port-range-min 8 " in fix_command("web", PING)
    six = fix_command("web", make_traffic("2001:db8::1", "udp", 53))
    assert "--ethertype IPv6" in six and six.endswith("2001:db8::1/128 web")
    assert rule_label(rule(protocol="tcp", port_range_min=22, port_range_max=22)) == "IPv4 tcp/22 from anywhere"
    assert rule_label(rule(remote_group_id="g1")) == "IPv4 any from group g1"
