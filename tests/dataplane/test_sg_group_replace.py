"""A rule change replaces its group's two chains and nothing else (floatnet.linux.port_filter.replace_group), in
a scratch namespace: the tables are created on first use, later changes leave the base chains' rules alone
(same handles: not flushed and re-added)."""

from __future__ import annotations

import json
from collections.abc import Callable

from floatnet.linux import nft, port_filter
from floatnet.linux import sg_render as r

BASE_CHAINS = {"raw", "filter", "prerouting", "spoof"}


def base_rule_handles(ns: str) -> set[tuple[str, int]]:
    found = set()
    for family in ("inet", "bridge"):
        for item in json.loads(nft.run(ns, f"list table {family} {r.TABLE}"))["nftables"]:
            rule = item.get("rule") or {}
            if rule.get("chain") in BASE_CHAINS:
                found.add((f"{family} {rule['chain']}", int(rule["handle"])))
    return found


def test_rule_change_touches_only_the_groups_chains(make_ns: Callable[[str], str]) -> None:
    ns = make_ns("grp")
    ssh = r.Rule("ingress", protocol="tcp", port_range_min=22, port_range_max=22)
    port_filter.replace_group(ns, r.GroupRules("g1", (r.Rule("egress"),)))  # no tables yet: created
    before = base_rule_handles(ns)
    assert before
    changed = r.GroupRules("g1", (r.Rule("egress"), ssh))
    port_filter.replace_group(ns, changed)
    assert port_filter.observe(ns).groups["g1"] == changed.fingerprint()
    assert base_rule_handles(ns) == before
