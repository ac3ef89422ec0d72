"""``floatnet demo --ipv6``'s dual-stack step (issue 19): IPv6 routed next to IPv4's floating IP.

The operator's commands, shown and recorded like the seed's: an IPv6 external subnet on ``public_net`` (the
lab's upstream router is 2001:db8:ff::1), a SLAAC subnet on ``vlan_100``, the router's interface on it and its
gateway given an IPv6 address next to its IPv4 one. The upstream routes the tenant prefix via that address (as
an ISP's routing would; IPv6 is not NATed). Then the proofs, from the lab's namespaces: vm1 formed its EUI-64
address from the router's advertisements (``ip -j addr`` inside vm1), reaches the upstream's 2001:db8:100::80
with that address as source, and is reachable from the upstream only once its group admits ICMPv6 (the rule is
added with the CLI and, like the security step's, left in place).
"""

from __future__ import annotations

import json
import subprocess
from typing import TYPE_CHECKING, Any

from floatnet.lab import proofs
from floatnet.lab import state as lab_state
from floatnet.lab.context import LabContext
from floatnet.lab.names import UPSTREAM_GATEWAY6, WEB_SERVER6
from floatnet.linux import links

if TYPE_CHECKING:
    from floatnet.cli.demo import Demo

EXTERNAL6, TENANT6 = "2001:db8:ff::/64", "2001:db8:1::/64"
CONVERGENCE = 20.0  # seconds: an instance forms its address on the next advertisement (every 3-10 s)
# (record key, collection, command) as the seed's steps: ``{key}`` is an earlier step's recorded id
STEPS = [
    ("public_eth0_subnet6", "subnets", ["subnet-create", "--ip-version", "6", "--name", "public_eth0_subnet6",
     "--gateway", UPSTREAM_GATEWAY6, "--disable-dhcp", "{public_net}", EXTERNAL6]),
    ("vlan_100_subnet6", "subnets", ["subnet-create", "--ip-version", "6", "--ipv6-ra-mode", "slaac",
     "--ipv6-address-mode", "slaac", "--name", "vlan_100_subnet6", "{vlan_100}", TENANT6]),
    ("router1:interface6", "", ["router-interface-add", "{router1}", "{vlan_100_subnet6}"]),
]  # fmt: skip
RULE = ["security-group-rule-create", "--direction", "ingress", "--ethertype", "IPv6", "--protocol", "ipv6-icmp",
        "default"]  # fmt: skip
RULE_KEY = "sg_rule_icmpv6"  # the rule's id as the demo records it, so its teardown deletes exactly that rule
# what cli/demo.py's teardown removes of this step besides the seed's (subnets go with their networks)
TEARDOWN = [((RULE_KEY,), (), ["security-group-rule-delete", "{" + RULE_KEY + "}"])]
COLLECTIONS = {RULE_KEY: "security-group-rules", **{key: collection for key, collection, _ in STEPS if collection}}


def _addresses(ns: str) -> set[str]:
    """vm1's global IPv6 addresses, as ``ip -j addr`` inside its namespace shows them."""
    argv = ["ip", "netns", "exec", ns, "ip", "-j", "-6", "addr", "show", "dev", "eth0"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False).stdout
    return {a["local"] for i in json.loads(out or "[]") for a in i.get("addr_info", []) if a.get("scope") == "global"}


def _gateway(demo: Demo) -> tuple[str, str]:
    """The router's gateway addresses (IPv4, IPv6; IPv6 empty while it has none)."""
    info = demo.api(f"/routers/{demo.owned.ids['router1']}")["router"]["external_gateway_info"] or {}
    ips = [ip["ip_address"] for ip in info.get("external_fixed_ips") or []]
    return next(ip for ip in ips if ":" not in ip), next((ip for ip in ips if ":" in ip), "")


def _build(demo: Demo) -> str:
    """Run the steps not done yet (recorded), give the gateway its IPv6 address; returns that address."""
    ids = demo.owned.ids
    for key, collection, template in STEPS:
        if key in ids and (not collection or demo._exists(collection, ids[key])):
            continue
        argv = [arg.format_map(ids) for arg in template]
        found = demo.floatnet(*argv, *(["-f", "value", "-c", "id"] if collection else []))
        demo.owned.add(key, found.stdout.strip() if collection else "done")
    ipv4, ipv6 = _gateway(demo)
    if not ipv6:
        demo.floatnet("router-gateway-set", ids["router1"], ids["public_net"], "--fixed-ip",
                      f"subnet_id={ids['public_eth0_subnet01']},ip_address={ipv4}", "--fixed-ip",
                      f"subnet_id={ids['public_eth0_subnet6']}")  # fmt: skip
        ipv4, ipv6 = _gateway(demo)
    return ipv6


def run(demo: Demo, ctx: LabContext) -> None:
    """The step, after the seed's proofs: build dual stack, route the tenant prefix upstream, prove."""
    up, vm1 = ctx.names.upstream_ns, ctx.names.instance_ns("vm1")
    demo.step(f"IPv6: a SLAAC subnet {TENANT6} behind router1, its gateway on {EXTERNAL6} (routed, not NATed)")
    gateway6 = _build(demo)
    print(f"  upstream: ip -6 route replace {TENANT6} via {gateway6}   (the ISP's route to the tenant prefix)")
    links.edit_routes(up, add=[(TENANT6, gateway6)])
    port = demo.api(f"/ports/{lab_state.load(ctx.state_dir, ctx.names.prefix).instances['vm1'].port_id}")["port"]
    subnet6 = demo.owned.ids["vlan_100_subnet6"]
    [address] = [ip["ip_address"] for ip in port["fixed_ips"] if ip["subnet_id"] == subnet6]
    demo.check(proofs.eventually(lambda: proofs.Proof(
        f"vm1 formed its EUI-64 address {address} from the router's advertisements", address in _addresses(vm1),
        f"ip -j addr in vm1: {sorted(_addresses(vm1)) or 'no global IPv6 address'}"), CONVERGENCE))  # fmt: skip
    demo.check(proofs.eventually(lambda: proofs.seen_as(
        vm1, address, f"vm1 -> outside ({WEB_SERVER6}) seen as its own address", WEB_SERVER6), CONVERGENCE))
    if not _rule_present(demo):
        demo.check(proofs.ping_dropped(up, address, f"upstream -> {address} ping dropped (no IPv6 ingress rule)"))
        made = demo.floatnet(*RULE, "-f", "value", "-c", "id")
        demo.owned.add(RULE_KEY, made.stdout.strip())
    demo.check(proofs.eventually(lambda: proofs.ping(up, address, f"upstream -> {address} ping"), CONVERGENCE))


def _rule_present(demo: Demo) -> bool:
    """Whether the default group admits ICMPv6 from anywhere already (an earlier run left the rule)."""
    groups = demo.api("/security-groups", name="default")["security_groups"]
    rules: list[dict[str, Any]] = [r for g in groups for r in g.get("security_group_rules") or []]
    return any(r["direction"] == "ingress" and r["ethertype"] == "IPv6" and r.get("protocol") == "ipv6-icmp"
               and not r.get("remote_group_id") for r in rules)  # fmt: skip
