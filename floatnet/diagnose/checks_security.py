"""The security-group hops: do the port's groups admit the traffic (API), and does the installed filter (kernel)?

``security.groups`` judges the rules as the server holds them with Neutron's semantics
(:mod:`floatnet.diagnose.sg_match`): with ``--protocol`` it names the rule that admits the traffic, or fails
with the one ``security-group-rule-create`` that would; without, it summarises what the groups admit from
the source. ``security.filter`` then reads the port's filter in the kernel (``nft -n -j``) and walks it with
the same packet (:mod:`floatnet.diagnose.nft_eval`), so a rule the agent has not applied yet is a broken
hop too. Port security off means no filtering: both pass saying so.
"""

from __future__ import annotations

from typing import Any

from floatnet.diagnose import nft_eval
from floatnet.diagnose.facts import PortFacts
from floatnet.diagnose.result import Result, failed, passed
from floatnet.diagnose.sg_match import (
    PORT_PROTOCOLS,
    Traffic,
    fix_command,
    protocol_number,
    reply_of,
    rule_admits,
    rule_label,
)

TABLE = "floatnet_sg"
AGENT_FIX = (
    "the agent applies a change within a second: run diagnose again; if it persists read the agent's log "
    "(it reports failures in `openstack network agent show`) and restart `floatnet agent`"
)
QUERY_HINT = "give --protocol (tcp, udp, icmp, a number) and --port to check that one kind of traffic"


def _named(groups: list[dict[str, Any]]) -> str:
    return ", ".join(f"{g.get('name') or '-'} (id {g['id']})" for g in groups)


def _ref(f: PortFacts, group: dict[str, Any]) -> str:
    """The group as a CLI argument: its name when that is unambiguous for the caller, else its id."""
    name = group.get("name")
    if name and len(f.api.query("security_group", "security-groups", name=name)) == 1:
        return str(name)
    return str(group["id"])


def _ingress(f: PortFacts) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(g, r) for g in f.security_groups for r in g.get("security_group_rules") or []
            if r.get("direction") == "ingress"]  # fmt: skip


def _summary(f: PortFacts) -> Result:
    """Without a query: which ingress rules could admit anything from the source."""
    assert f.port is not None
    source = f.source
    open_to = [
        rule_label(r) for _, r in _ingress(f)
        if rule_admits(r, _any_from(source, r), f.group_members)
    ]  # fmt: skip
    what = "; ".join(open_to) if open_to else "nothing new (only replies to the instance's own connections)"
    return passed(
        f"groups {_named(f.security_groups)}: from {source} they admit {what}",
        f"floatnet security-group-rule-list  (groups of `floatnet port-show {f.port['id']}`)",
        hint=QUERY_HINT,
    )


def _any_from(source: str, rule: dict[str, Any]) -> Traffic:
    """A flow from ``source`` shaped to fit ``rule``'s own protocol and ports (so only the remote and the
    ethertype decide): what the summary asks of each rule."""
    proto = protocol_number(rule.get("protocol"), str(rule.get("ethertype") or "IPv4"))
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    port = int(low) if proto in PORT_PROTOCOLS and low is not None else None
    icmp_type = int(low) if proto in (1, 58) and low is not None else None
    icmp_code = int(high) if proto in (1, 58) and high is not None else None
    return Traffic(source, 6 if proto is None else proto, port, icmp_type, icmp_code)


def groups(f: PortFacts) -> Result:
    """The port's security groups admit the traffic from the source (Neutron's rule semantics)."""
    assert f.port is not None
    port_id, shown = f.port["id"], f"floatnet port-show {f.port['id']}"
    if f.port.get("port_security_enabled") is False:
        return passed(f"port security is off on port {port_id}: no security group filters it", shown)
    missing = sorted(set(f.port.get("security_groups") or []) - {g["id"] for g in f.security_groups})
    if missing:
        return failed(
            f"security group(s) {', '.join(missing)} of port {port_id} cannot be read",
            "check they exist and your project can see them: `floatnet security-group-list`",
            shown,
        )
    if not f.security_groups:
        return failed(
            f"port {port_id} has port security on and no security group: nothing new is admitted to it",
            f"`floatnet port-update {port_id} --security-group default` (or turn port security off: "
            f"`floatnet port-update {port_id} --no-security-groups --port-security-enabled false`)",
            shown,
        )
    traffic = f.traffic
    if traffic is None:
        return _summary(f)
    for group, rule in _ingress(f):
        if rule_admits(rule, traffic, f.group_members):
            return _stateless_reply(f, traffic) or passed(
                f"rule {rule['id']} of security group {group.get('name') or group['id']} admits "
                f"{traffic.label()} from {traffic.source} ({rule_label(rule)})",
                f"floatnet security-group-rule-show {rule['id']}",
            )
    first = f.security_groups[0]
    return failed(
        f"no ingress rule of security group {_named(f.security_groups)} admits {traffic.label()} from "
        f"{traffic.source}",
        fix_command(_ref(f, first), traffic),
        f"floatnet security-group-show {first['id']}",
    )


def _stateless_reply(f: PortFacts, traffic: Traffic) -> Result | None:
    """For stateless groups (``stateful`` false: no connection tracking) the answer needs an egress rule too;
    a failure naming the fix when none admits it, else None."""
    if all(g.get("stateful", True) for g in f.security_groups):
        return None
    reply = reply_of(traffic)
    rules = [r for g in f.security_groups for r in g.get("security_group_rules") or []]
    if any(rule_admits(r, reply, f.group_members, "egress") for r in rules):
        return None
    first = f.security_groups[0]
    fix = fix_command(_ref(f, first), reply).replace("--direction ingress", "--direction egress")
    return failed(
        f"stateless security group {_named(f.security_groups)} admits {traffic.label()} from {traffic.source} "
        f"but no egress rule admits the answer ({reply.label()} to {traffic.source}, any port)",
        fix,
        f"floatnet security-group-show {first['id']}",
    )


def _where(f: PortFacts) -> str:
    return f"ip netns exec {f.local.ovs_netns} " if f.local.ovs_netns else ""


def kernel_filter(f: PortFacts) -> Result:
    """The port's filter is installed for its groups and, with a query, admits the traffic as the API's
    rules do (the packet is walked through the installed chains)."""
    assert f.port is not None
    port_id, where = f.port["id"], _where(f)
    if f.port.get("port_security_enabled") is False:
        return passed(f"port security is off on port {port_id}: no filter expected")
    if not (f.port.get("binding:vif_details") or {}).get("port_filter"):
        return passed(f"port {port_id}'s binding does not filter (binding:vif_details port_filter is not true): "
                      "this node does not enforce its security groups", f"floatnet port-show {port_id}")  # fmt: skip
    rules = f.sg_ruleset
    if rules is None:
        return failed(f"no table inet {TABLE} on this node: the agent has installed no security-group filter",
                      AGENT_FIX, f"{where}nft list tables")  # fmt: skip
    found = _port_chain(f, rules)
    if isinstance(found, Result):
        return found
    chain, mark = found
    if f.traffic is None:
        return passed(f"{chain} filters port {port_id} for groups {_named(f.security_groups)}",
                      f"{where}nft list chain inet {TABLE} {chain}")  # fmt: skip
    return _walk(f, rules, chain, mark)


def _port_chain(f: PortFacts, rules: nft_eval.Ruleset) -> tuple[str, int] | Result:
    """The port's ingress chain, reached from its ``qvb`` device's mark and jumping to each of its groups."""
    assert f.port is not None
    port_id, where = f.port["id"], _where(f)
    qvb = f"qvb{port_id[:11]}"
    mark = nft_eval.ingress_mark(rules, qvb)
    if mark is None:
        return failed(f"the bridge table gives {qvb} no mark: packets from OVS to port {port_id} reach no filter",
                      AGENT_FIX, f"{where}nft list map bridge {TABLE} port_mark")  # fmt: skip
    chain = nft_eval.dispatch_target(rules, mark)
    if chain is None:
        return failed(f"the dispatch map has no chain for port {port_id}'s mark {mark:#x}",
                      AGENT_FIX, f"{where}nft list map inet {TABLE} dispatch")  # fmt: skip
    want = sorted(f"sg-{g}-in" for g in f.port.get("security_groups") or [])
    have = sorted(nft_eval.jumps(rules, chain))
    if want != have:
        return failed(
            f"{chain} jumps to {have or 'no group'}, the port's groups are {want}: the agent has not applied the "
            "port's groups yet",
            AGENT_FIX,
            f"{where}nft list chain inet {TABLE} {chain}",
        )
    return chain, mark


def _walk(f: PortFacts, rules: nft_eval.Ruleset, chain: str, mark: int) -> Result:
    """Walk the port's chain with the queried flow's first packet."""
    traffic = f.traffic
    assert traffic is not None and f.port is not None
    packet = nft_eval.Packet(traffic.source, f.fixed_ip, traffic.protocol, mark, traffic.port, traffic.icmp_type,
                             traffic.icmp_code)  # fmt: skip
    walked = nft_eval.walk(rules, chain, packet)
    see = f"{_where(f)}nft list table inet {TABLE}"
    if walked.verdict == "accept":
        return passed(f"the installed filter admits {traffic.label()} from {traffic.source} ({walked.decided_by})",
                      see)  # fmt: skip
    unjudged = f"; rules diagnose could not judge: {', '.join(walked.unknown)}" if walked.unknown else ""
    return failed(
        f"the API's rules admit {traffic.label()} from {traffic.source} but the installed filter of port "
        f"{f.port['id']} drops it ({walked.decided_by or 'end of ' + chain}): the agent has not applied the "
        f"rule yet{unjudged}",
        AGENT_FIX,
        see,
    )
