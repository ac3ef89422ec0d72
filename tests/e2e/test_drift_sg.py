"""Issue 13's drift: the security-group tables changed by hand are repaired by the running agent's one
reconcile loop (it watches their nftables events), proven by traffic from the upstream through the floating
IP: TCP 80 (opened by a rule) answers, TCP 7 (no rule) stays closed — and by ``nft`` itself.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from floatnet.linux import sg_render as r
from tests.e2e.fabric import Fabric, wait_until
from tests.e2e.topology import Seed, build_seed, in_ns, probe_argv, whoami

REPAIR_TIMEOUT = 10.0  # generous on a loaded machine; the repair itself is one step


@pytest.fixture(scope="module")
def sgseed(fabric: Fabric) -> Seed:
    seed = build_seed(fabric, open_default=False)
    fabric.cli("security-group-rule-create", "--direction", "ingress", "--protocol", "tcp", "--port-range-min", "80",
               "--port-range-max", "80", "--remote-ip-prefix", "0.0.0.0/0", "default")  # fmt: skip
    wait_until(lambda: _open_80(seed), 10, "TCP 80 open through the floating IP")
    return seed


def _upstream(seed: Seed) -> str:
    return f"{seed.fabric.prefix}upstream"


def _open_80(seed: Seed) -> bool:
    seen = whoami(_upstream(seed), str(seed.fips["fip1"]["floating_ip_address"]), timeout=0.5)
    return seen is not None and seen["server"] == "vm1"


def _closed_7(seed: Seed) -> bool:
    argv = probe_argv("session", str(seed.fips["fip1"]["floating_ip_address"]), "7", "--duration", "0.2",
                      "--timeout", "0.5")  # fmt: skip
    return in_ns(_upstream(seed), *argv).returncode != 0


def _nft(seed: Seed, *args: str) -> str:
    return in_ns(seed.fabric.ovs_netns, "nft", *args, check=True).stdout


def _group_rules(seed: Seed, group_id: str) -> int:
    out = _nft(seed, "-j", "list", "chain", "inet", r.TABLE, r.group_chain(group_id, "ingress"))
    return sum(1 for item in json.loads(out)["nftables"] if "rule" in item)


def _default_group(seed: Seed) -> str:
    groups = seed.fabric.api("GET", "/security-groups", params={"name": "default"})["security_groups"]
    return str(groups[0]["id"])


def _repaired(seed: Seed, inject: Callable[[], None], what: str) -> None:
    """Inject a fault; wait until traffic says the filter is whole again and the repair was logged."""
    f = seed.fabric
    agent_pid = f.procs["agent"].pid
    assert _open_80(seed) and _closed_7(seed), "healthy before the fault"
    log_before = len(f.log("agent"))
    inject()
    wait_until(lambda: _open_80(seed) and _closed_7(seed), REPAIR_TIMEOUT, f"repair of: {what}")
    wait_until(lambda: "drift repaired" in f.log("agent")[log_before:], 5, f"the repair of {what} logged")
    assert f.procs["agent"].pid == agent_pid and f.procs["agent"].poll() is None, "the agent was restarted"


def test_table_deleted(sgseed: Seed) -> None:
    _repaired(sgseed, lambda: _nft(sgseed, "delete", "table", "inet", r.TABLE), "inet table deleted")
    vm1 = sgseed.vms["vm1"]
    assert r.port_chain(vm1.port_id, "ingress") in _nft(sgseed, "list", "table", "inet", r.TABLE)


def test_rule_added_to_a_group_chain(sgseed: Seed) -> None:
    group = _default_group(sgseed)
    rules = _group_rules(sgseed, group)
    chain = r.group_chain(group, "ingress")
    _repaired(sgseed, lambda: _nft(sgseed, "insert", "rule", "inet", r.TABLE, chain, "accept"), "accept-all added")
    assert _group_rules(sgseed, group) == rules


def test_anti_spoofing_element_deleted(sgseed: Seed) -> None:
    vm1 = sgseed.vms["vm1"]
    tap = f"tap{vm1.port_id[:11]}"
    element = f'{{ "{tap}" . {vm1.ip} }}'
    _repaired(sgseed, lambda: _nft(sgseed, "delete", "element", "bridge", r.TABLE, "port_src4", element),
              "vm1's source address element deleted")  # fmt: skip
    assert vm1.ip in _nft(sgseed, "list", "set", "bridge", r.TABLE, "port_src4")
