"""Walking an installed security-group filter with one packet (pure), on real ``nft -n -j`` output.

``data/nft_floatnet_sg.json`` is what ``nft -n -j list table inet|bridge floatnet_sg`` printed for two ports:
PORT (10.0.0.5) in groups WEB (tcp/80 from anywhere, ICMP echo, tcp/22 from 203.0.113.0/24, udp/1000-2000,
ICMP 3/3, IPv6 tcp/443 from 2001:db8::/32) and DEFAULT (any from members of DEFAULT: 10.0.0.5, 10.0.0.6);
OTHER (10.0.0.6) in DEFAULT only.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from floatnet.diagnose import nft_eval

WEB = "5b0c7a51-0e7e-4c51-9b0a-6a1f5b1c0a01"
DEFAULT = "d3fa0c11-2b7c-4d7e-8d2e-3c9a7e6f0b02"
PORT = "9a7e3b2c-1d4f-4e5a-8b6c-7d8e9f0a1b2c"
OTHER = "0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
DOC = json.loads((Path(__file__).parent / "data" / "nft_floatnet_sg.json").read_text())


@pytest.fixture
def rules() -> nft_eval.Ruleset:
    return nft_eval.parse(DOC["inet"], DOC["bridge"])


def verdict(rules: nft_eval.Ruleset, source: str, proto: int, port: str = PORT, dest: str = "10.0.0.5",
            **kw: Any) -> nft_eval.Walk:  # fmt: skip
    mark = nft_eval.ingress_mark(rules, f"qvb{port[:11]}")
    assert mark is not None
    chain = nft_eval.dispatch_target(rules, mark)
    assert chain == f"port-{port}-in"
    return nft_eval.walk(rules, chain, nft_eval.Packet(source, dest, proto, mark, **kw))


def test_the_port_is_found_from_its_qvb_device(rules: nft_eval.Ruleset) -> None:
    mark = nft_eval.ingress_mark(rules, f"qvb{PORT[:11]}")
    assert mark is not None and nft_eval.dispatch_target(rules, mark) == f"port-{PORT}-in"
    assert nft_eval.jumps(rules, f"port-{PORT}-in") == [f"sg-{WEB}-in", f"sg-{DEFAULT}-in"]
    assert nft_eval.ingress_mark(rules, "qvbnosuchport") is None
    assert nft_eval.dispatch_target(rules, 0x1234) is None


@pytest.mark.parametrize(
    ("source", "proto", "kw", "expected"),
    [
        ("198.51.100.7", 6, {"dport": 80}, "accept"),
        ("198.51.100.7", 6, {"dport": 8080}, "drop"),
        ("203.0.113.1", 6, {"dport": 22}, "accept"),
        ("198.51.100.7", 6, {"dport": 22}, "drop"),
        ("198.51.100.7", 1, {"icmp_type": 8, "icmp_code": 0}, "accept"),
        ("198.51.100.7", 1, {"icmp_type": 13, "icmp_code": 0}, "drop"),
        ("198.51.100.7", 1, {"icmp_type": 3, "icmp_code": 3}, "accept"),
        ("198.51.100.7", 1, {"icmp_type": 3, "icmp_code": 1}, "drop"),
        ("198.51.100.7", 17, {"dport": 1500}, "accept"),
        ("198.51.100.7", 17, {"dport": 2001}, "drop"),
        ("198.51.100.7", 17, {"dport": 68}, "drop"),  # the DHCP rule wants source port 67: not a new client flow
        ("10.0.0.6", 47, {}, "accept"),  # any protocol from a member of the remote group
        ("10.0.0.7", 47, {}, "drop"),
    ],
)
def test_walk_matches_what_the_rules_say(
    rules: nft_eval.Ruleset, source: str, proto: int, kw: dict[str, Any], expected: str
) -> None:
    assert verdict(rules, source, proto, **kw).verdict == expected


def test_ipv6_rules_apply_to_ipv6_packets_only(rules: nft_eval.Ruleset) -> None:
    assert verdict(rules, "2001:db8::9", 6, dest="2001:db8:1::5", dport=443).verdict == "accept"
    assert verdict(rules, "2001:db9::9", 6, dest="2001:db8:1::5", dport=443).verdict == "drop"


def test_the_decisive_rule_is_named(rules: nft_eval.Ruleset) -> None:
    walked = verdict(rules, "198.51.100.7", 6, dport=8080)
    assert walked.decided_by.startswith(f"port-{PORT}-in#") and walked.unknown == []
    assert verdict(rules, "198.51.100.7", 6, dport=80).decided_by.startswith(f"sg-{WEB}-in#")


def test_a_group_chain_missing_its_rule_drops(rules: nft_eval.Ruleset) -> None:
    """What diagnose sees when the agent has not applied a rule yet: the packet falls through to the drop."""
    rules.chains[f"sg-{WEB}-in"] = [e for e in rules.chains[f"sg-{WEB}-in"] if "80" not in json.dumps(e)]
    assert verdict(rules, "198.51.100.7", 6, dport=80).verdict == "drop"


def test_the_other_port_has_only_the_default_group(rules: nft_eval.Ruleset) -> None:
    assert verdict(rules, "198.51.100.7", 6, port=OTHER, dest="10.0.0.6", dport=80).verdict == "drop"
    assert verdict(rules, "10.0.0.5", 6, port=OTHER, dest="10.0.0.6", dport=80).verdict == "accept"


def test_an_unknown_match_is_reported_and_never_accepts() -> None:
    doc = copy.deepcopy(DOC)
    for item in doc["inet"]["nftables"]:
        rule = item.get("rule")
        if rule and rule["chain"] == f"sg-{WEB}-in" and "80" in json.dumps(rule["expr"]):
            rule["expr"].insert(0, {"match": {"op": "==", "left": {"osf": {"key": "name"}}, "right": "Linux"}})
    walked = verdict(nft_eval.parse(doc["inet"], doc["bridge"]), "198.51.100.7", 6, dport=80)
    assert walked.verdict == "drop" and len(walked.unknown) == 1 and "osf" in walked.unknown[0]
