"""The probe parsers on outputs captured from the real tools (uuids shortened): ovs-vsctl, nft, conntrack."""

from __future__ import annotations

from floatnet.diagnose import probe

# `ovs-vsctl -f json --columns=… list Bridge|Port|Interface` on br-ex (uplink fnlab-p0, a qg- side port with
# an iface-id) and br-vl (an instance tap with tag 100); shapes exactly as ovs-vsctl 3.1 prints them.
BRIDGES = {
    "headings": ["_uuid", "name", "ports"],
    "data": [
        [["uuid", "b-vl"], "br-vl", ["set", [["uuid", "p-brvl"], ["uuid", "p-tap"]]]],
        [["uuid", "b-ex"], "br-ex", ["set", [["uuid", "p-brex"], ["uuid", "p-qg"], ["uuid", "p-up"]]]],
    ],
}
PORTS = {
    "headings": ["_uuid", "name", "tag", "interfaces"],
    "data": [
        [["uuid", "p-brvl"], "br-vl", ["set", []], ["uuid", "i-brvl"]],
        [["uuid", "p-tap"], "tapabc", 100, ["uuid", "i-tap"]],
        [["uuid", "p-qg"], "qg-side", ["set", []], ["uuid", "i-qg"]],
        [["uuid", "p-up"], "fnlab-p0", ["set", []], ["uuid", "i-up"]],
        [["uuid", "p-brex"], "br-ex", ["set", []], ["uuid", "i-brex"]],
    ],
}
IFACES = {
    "headings": ["_uuid", "name", "type", "external_ids", "link_state", "ofport", "error"],
    "data": [
        [["uuid", "i-tap"], "tapabc", "",
         ["map", [["attached-mac", "fa:16:3e:00:00:01"], ["iface-id", "vmport"]]], "up", 5, ["set", []]],
        [["uuid", "i-brvl"], "br-vl", "internal", ["map", []], "down", 65534, ["set", []]],
        [["uuid", "i-qg"], "qg-side", "", ["map", [["iface-id", "gwport"]]], "down", -1,
         "could not open network device qg-side (No such device)"],
        [["uuid", "i-brex"], "br-ex", "internal", ["map", []], "down", 65534, ["set", []]],
        [["uuid", "i-up"], "fnlab-p0", "", ["map", []], ["set", []], ["set", []], ["set", []]],
    ],
}  # fmt: skip


def snapshot() -> probe.OvsSnapshot:
    tables = [probe.parse_ovs_table(doc) for doc in (BRIDGES, PORTS, IFACES)]
    return probe.build_snapshot(*tables)


def test_ovs_snapshot_joins_bridge_port_and_interface() -> None:
    snap = snapshot()
    assert snap.bridges == ["br-ex", "br-vl"]
    (tap,) = snap.by_iface_id("vmport")
    assert (tap.name, tap.bridge, tap.tag, tap.link_state) == ("tapabc", "br-vl", 100, "up")
    (qg,) = snap.by_iface_id("gwport")
    assert (qg.bridge, qg.tag, qg.link_state, qg.ofport) == ("br-ex", None, "down", -1)
    assert qg.error == "could not open network device qg-side (No such device)" and tap.error is None
    assert snap.by_iface_id("nothing") == []
    ex = {p.name: p for p in snap.on_bridge("br-ex")}
    assert set(ex) == {"br-ex", "qg-side", "fnlab-p0"}
    assert ex["br-ex"].iface_type == "internal" and ex["fnlab-p0"].iface_id is None
    assert ex["fnlab-p0"].link_state is None  # an empty set means "not reported"


def test_ovs_table_values() -> None:
    rows = probe.parse_ovs_table(IFACES)
    assert rows[0]["external_ids"] == {"attached-mac": "fa:16:3e:00:00:01", "iface-id": "vmport"}
    assert rows[1]["ofport"] == 65534 and rows[4]["link_state"] == []
    assert probe.parse_ovs_table({}) == []


# `nft -j list table ip floatnet` (nft 1.0.6) with two DNAT elements and an empty SNAT map
NFT = {
    "nftables": [
        {"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
        {"table": {"family": "ip", "name": "floatnet", "handle": 1}},
        {"map": {"family": "ip", "name": "fip_dnat", "table": "floatnet", "type": "ipv4_addr", "handle": 1,
                 "map": "ipv4_addr", "elem": [["203.0.113.101", "10.0.0.5"], ["203.0.113.102", "10.0.0.6"]]}},
        {"map": {"family": "ip", "name": "fip_snat", "table": "floatnet", "type": "ipv4_addr", "handle": 2,
                 "map": "ipv4_addr"}},
        {"set": {"family": "ip", "name": "internal", "table": "floatnet", "type": "ipv4_addr", "handle": 3}},
        {"chain": {"family": "ip", "table": "floatnet", "name": "prerouting", "handle": 4, "type": "nat",
                   "hook": "prerouting"}},
    ]
}  # fmt: skip


def test_nft_maps() -> None:
    maps = probe.parse_nft_maps(NFT)
    assert maps == {"fip_dnat": {"203.0.113.101": "10.0.0.5", "203.0.113.102": "10.0.0.6"}, "fip_snat": {}}


def test_nft_hooks() -> None:
    doc = {
        "nftables": [
            *NFT["nftables"],
            {"chain": {"family": "ip", "table": "floatnet", "name": "postrouting", "type": "nat",
                       "hook": "postrouting"}},
            {"chain": {"family": "ip", "table": "floatnet", "name": "helper"}},
            {"rule": {"chain": "prerouting", "expr": [{"dnat": {"addr": {"map": {"key": {"payload": {
                "protocol": "ip", "field": "daddr"}}, "data": "@fip_dnat"}}}}]}},
            {"rule": {"chain": "postrouting", "expr": [
                {"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "qg-x"}},
                {"snat": {"addr": {"map": {"key": {"payload": {"protocol": "ip", "field": "saddr"}},
                                           "data": "@fip_snat"}}}}]}},
            {"rule": {"chain": "helper", "expr": [{"accept": None}]}},
        ]
    }  # fmt: skip
    hooks = probe.parse_nft_hooks(doc)
    assert set(hooks) == {"prerouting", "postrouting"}  # a regular chain has no hook
    table = probe.NatTable(probe.parse_nft_maps(doc), hooks)
    assert table.hook_has("prerouting", '"dnat"', '"@fip_dnat"')
    assert table.hook_has("postrouting", '"snat"', '"@fip_snat"')
    assert not table.hook_has("postrouting", '"@fip_dnat"')


def test_nft_map_element_with_options() -> None:
    doc = {"nftables": [{"map": {"name": "m", "elem": [[{"elem": {"val": "1.2.3.4", "timeout": 5}}, "10.0.0.1"]]}}]}
    assert probe.parse_nft_maps(doc) == {"m": {"1.2.3.4": "10.0.0.1"}}


CONNTRACK = """\
tcp      6 431999 ESTABLISHED src=198.51.100.10 dst=203.0.113.101 sport=40000 dport=80 src=10.0.0.5 \
dst=198.51.100.10 sport=80 dport=40000 [ASSURED] mark=0 use=1
icmp     1 29 src=198.51.100.10 dst=203.0.113.101 type=8 code=0 id=7 src=203.0.113.101 dst=198.51.100.10 \
type=0 code=0 id=7 mark=0 use=1

garbage line without tuples
"""


def test_conntrack_original_and_reply_tuples() -> None:
    tcp, icmp = probe.parse_conntrack(CONNTRACK)
    assert (tcp.proto, tcp.src, tcp.dst, tcp.reply_src, tcp.reply_dst) == (
        "tcp", "198.51.100.10", "203.0.113.101", "10.0.0.5", "198.51.100.10",
    )  # fmt: skip
    assert (icmp.proto, icmp.reply_src) == ("icmp", "203.0.113.101")
    assert probe.parse_conntrack("") == []


def test_link_helpers() -> None:
    veth = {
        "ifname": "fnlab-p0",
        "flags": ["BROADCAST", "MULTICAST", "PROMISC", "UP", "LOWER_UP"],
        "promiscuity": 1,
        "linkinfo": {"info_kind": "veth"},
        "addr_info": [
            {"family": "inet", "local": "203.0.113.100", "prefixlen": 24},
            {"family": "inet", "local": "203.0.113.101", "prefixlen": 32},
            {"family": "inet6", "local": "fe80::1", "prefixlen": 64},
        ],
    }
    assert probe.is_up(veth) and probe.is_promisc(veth) and probe.link_kind(veth) == "veth"
    assert probe.ipv4_cidrs(veth) == {"203.0.113.100/24", "203.0.113.101/32"}
    down = {"flags": ["BROADCAST", "UP"], "promiscuity": 0}
    assert not probe.is_up(down) and not probe.is_promisc(down) and probe.link_kind(down) == ""


def test_process_options() -> None:
    proc = probe.Process(1, ["dnsmasq", "--dhcp-hostsfile=/x/host", "--port", "0", "--no-hosts"])
    assert proc.option("dhcp-hostsfile") == "/x/host"
    assert proc.option("port") == "0"
    assert proc.option("dhcp-optsfile") is None
    assert probe.shown(["ip", "netns", "exec", "qrouter-1", "nft", "add", "element", "{ a : b }"]).endswith(
        "'{ a : b }'"
    )


def test_offered_dns_from_the_dnsmasq_options_file() -> None:
    from floatnet.diagnose.checks_l2 import _offered_dns

    opts = ["tag:s1,option:router,10.0.0.1", "tag:s1,option:dns-server,10.0.0.2,198.51.100.53"]
    assert _offered_dns(opts) == ["10.0.0.2", "198.51.100.53"]
    assert _offered_dns(["tag:s1,6,192.0.2.53"]) == ["192.0.2.53"]
    assert _offered_dns(["tag:s1,option:router,10.0.0.1"]) == []
