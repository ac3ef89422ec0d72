"""Which port forwarding a diagnosed flow takes (pure): single ports, N-N ranges keep the offset, N-1 ranges
go to one port, protocol and port must both match; the router's concatenated map keys read back."""

from __future__ import annotations

from floatnet.diagnose.facts import Forwarding
from floatnet.diagnose.probe import parse_nft_maps

SINGLE = {"id": "pf1", "protocol": "tcp", "external_port": 2222, "internal_port": 22,
          "internal_ip_address": "10.0.0.6", "internal_port_id": "p6"}  # fmt: skip
RANGE = {"id": "pf2", "protocol": "udp", "external_port_range": "5000:5009", "internal_port_range": "6000:6009",
         "internal_ip_address": "10.0.0.7", "internal_port_id": "p7"}  # fmt: skip
MANY_TO_ONE = {**RANGE, "id": "pf3", "internal_port_range": "53:53"}


def test_single_port_forwarding() -> None:
    assert Forwarding.matching(SINGLE, "tcp", 2222) == Forwarding("pf1", "tcp", 2222, "10.0.0.6", 22, "p6")
    assert Forwarding.matching(SINGLE, "udp", 2222) is None
    assert Forwarding.matching(SINGLE, "tcp", 2223) is None


def test_ranges_keep_the_offset_or_map_to_one_port() -> None:
    assert Forwarding.matching(RANGE, "udp", 5003) == Forwarding("pf2", "udp", 5003, "10.0.0.7", 6003, "p7")
    assert Forwarding.matching(RANGE, "udp", 5010) is None
    found = Forwarding.matching(MANY_TO_ONE, "udp", 5009)
    assert found is not None and found.internal_port == 53


def test_concatenated_map_keys_read_back() -> None:
    document = {"nftables": [{"map": {"name": "pf_port", "elem": [
        [{"concat": ["203.0.113.102", "tcp", 2222]}, 22]]}}]}  # fmt: skip
    assert parse_nft_maps(document) == {"pf_port": {"203.0.113.102 . tcp . 2222": "22"}}
