"""The pure security-group renderer (floatnet.linux.sg_render): normalisation, rule text, transactions."""

from __future__ import annotations

import pytest

from floatnet.linux import sg_render as r
from floatnet.linux.errors import KernelError


def port(**kw: object) -> r.PortFilter:
    args: dict[str, object] = {"fixed_ips": ("10.0.0.5",), "groups": ("g2", "g1", "g1")}
    args.update(kw)
    return r.PortFilter("p1", 7, "02:AA:00:00:00:05", **args)  # type: ignore[arg-type]


def test_port_is_normalised_and_named() -> None:
    p = port(allowed_pairs=(("10.0.0.0/24", None), ("10.9.9.9", "02:bb:00:00:00:01")))
    assert p.mac == "02:aa:00:00:00:05" and p.groups == ("g1", "g2") and p.tap == "tapp1"
    assert p.sources(4) == ["10.0.0.0/24", "10.0.0.5/32", "10.9.9.9/32"]
    assert p.macs() == ["02:aa:00:00:00:05", "02:bb:00:00:00:01"]
    assert (
        p.fingerprint()
        == port(allowed_pairs=(("10.9.9.9/32", "02:BB:00:00:00:01"), ("10.0.0.7/24", None))).fingerprint()
    )


@pytest.mark.parametrize(
    "kw", [{"zone": 0}, {"zone": 70000}, {"mac": "nope"}, {"fixed_ips": ("x",)}, {"groups": ("a b",)}]
)
def test_bad_port_input_is_a_kernel_error(kw: dict[str, object]) -> None:
    args: dict[str, object] = {"port_id": "p1", "zone": 1, "mac": "02:00:00:00:00:01"}
    args.update(kw)
    with pytest.raises(KernelError):
        r.PortFilter(**args)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        (r.Rule("ingress"), "meta nfproto ipv4 accept"),
        (
            r.Rule("ingress", protocol="tcp", port_range_min=22, port_range_max=22),
            "meta nfproto ipv4 meta l4proto 6 th dport 22 accept",
        ),
        (
            r.Rule("egress", protocol="UDP", port_range_min=1000, port_range_max=2000, remote_ip_prefix="192.0.2.7/24"),
            "meta nfproto ipv4 ip daddr 192.0.2.0/24 meta l4proto 17 th dport 1000-2000 accept",
        ),
        (
            r.Rule("ingress", protocol="icmp", port_range_min=8, port_range_max=0),
            "meta nfproto ipv4 meta l4proto 1 icmp type 8 icmp code 0 accept",
        ),
        (r.Rule("ingress", ethertype="IPv6", protocol="icmp"), "meta nfproto ipv6 meta l4proto 58 accept"),
        (
            r.Rule("ingress", protocol="tcp", remote_group_id="g9"),
            "meta nfproto ipv4 ip saddr @rg4-g9 meta l4proto 6 accept",
        ),
        (r.Rule("ingress", protocol="47", remote_ip_prefix="0.0.0.0/0"), "meta nfproto ipv4 meta l4proto 47 accept"),
    ],
)
def test_rule_text(rule: r.Rule, text: str) -> None:
    assert r.rule_text(rule) == text


@pytest.mark.parametrize(
    "kw",
    [
        {"direction": "sideways"},
        {"protocol": "bogus"},
        {"protocol": "300"},
        {"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "g"},
    ],
)
def test_bad_rules_are_kernel_errors(kw: dict[str, object]) -> None:
    args: dict[str, object] = {"direction": "ingress"}
    args.update(kw)
    with pytest.raises(KernelError):
        r.Rule(**args)  # type: ignore[arg-type]


def test_prefix_of_the_other_family_is_refused() -> None:
    with pytest.raises(KernelError):
        r.rule_text(r.Rule("ingress", ethertype="IPv6", remote_ip_prefix="10.0.0.0/8"))


def test_spoof_elements_cover_macs_sources_and_link_local() -> None:
    p = port(allowed_pairs=(("10.0.1.0/24", None), ("10.0.0.4/31", "02:bb:00:00:00:01")))
    elems = r.spoof_elements(p)
    assert elems["filtered"] == ['"tapp1"']
    assert elems["port_macs"] == ['"tapp1" . 02:aa:00:00:00:05', '"tapp1" . 02:bb:00:00:00:01']
    assert elems["port_src4"] == ['"tapp1" . 10.0.0.4/31', '"tapp1" . 10.0.1.0/24']  # collapsed: no overlap
    assert '"tapp1" . fe80::aa:ff:fe00:5/128' in elems["port_src6"]
    assert r.spoof_elements(port(fixed_ips=()))["port_src4"] == []  # no IPv4 source at all: every one dropped
    rules = "\n".join(r.SPOOF_RULES)
    for needle in ("@port_macs drop", "arp saddr ip != @port_src4", "udp sport 67 drop", "nd-router-advert"):
        assert needle in rules


def test_port_lines_map_both_devices_to_one_zone_and_jump_to_groups() -> None:
    text = "\n".join(r.port_lines(port()))
    out_mark, in_mark = r.marks(7)
    assert f'"tapp1" : {out_mark:#x}, "qvbp1" : {in_mark:#x}' in text
    assert f"{out_mark:#x} : 7, {in_mark:#x} : 7" in text
    assert "add rule inet floatnet_sg port-p1-in jump sg-g1-in" in text
    assert "ct state invalid drop" in text and "stateless" not in text
    stateless = "\n".join(r.port_lines(port(stateful=False)))
    assert "ct state" not in stateless and "add element inet floatnet_sg stateless" in stateless


def test_group_lines_touch_one_group_and_create_remote_sets() -> None:
    group = r.GroupRules("g1", (r.Rule("ingress", remote_group_id="g2"), r.Rule("egress")))
    text = "\n".join(r.group_lines(group))
    assert "add set inet floatnet_sg rg4-g2 { type ipv4_addr; }" in text
    assert "flush chain inet floatnet_sg sg-g1-in" in text and "port-" not in text
    assert f'sg-g1-in return comment "fp:{group.fingerprint()}/2"' in text, "fingerprint and the chain's rule count"
    assert f'sg-g1-out return comment "fp:{group.fingerprint()}/2"' in text


def test_port_parts_name_every_element_of_the_port() -> None:
    parts = r.port_parts(port())
    out_mark, in_mark = r.marks(7)
    assert {f"mark tapp1 {out_mark:#x}", f"mark qvbp1 {in_mark:#x}", f"zone {in_mark:#x} 7", "filtered"} <= parts
    assert f"dispatch {in_mark:#x} port-p1-in" in parts
    assert any(p.startswith("port_src4 ") and p.endswith("/32") for p in parts)
    assert f"stateless {out_mark:#x}" in r.port_parts(port(stateful=False))


def test_member_keys_are_one_element_per_address() -> None:
    assert r.member_keys("g1", ["10.0.0.5/32", "2001:db8::1", "10.0.0.5"]) == {
        "rg4-g1": [bytes([10, 0, 0, 5])],
        "rg6-g1": [bytes.fromhex("20010db8000000000000000000000001")],
    }
    with pytest.raises(KernelError):
        r.member_keys("g1", ["10.0.0.0/24"])
