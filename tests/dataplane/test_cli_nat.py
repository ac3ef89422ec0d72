"""``floatnet router-nat-show`` against a real router namespace holding a real nftables table (root).

The namespace is ``qrouter-<fresh uuid>`` (the name the command derives from the router id, unique per run)
and is deleted at the end even on failure. The API is unreachable on purpose: a router id works without it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator

import pytest

from floatnet.linux import netns
from tests.conftest import free_port

TABLE = """
table ip floatnet {
    map fip_dnat { type ipv4_addr : ipv4_addr; elements = { 203.0.113.10 : 10.0.0.5 } }
    map fip_snat { type ipv4_addr : ipv4_addr; elements = { 10.0.0.5 : 203.0.113.10 } }
    chain prerouting { type nat hook prerouting priority dstnat; dnat to ip daddr map @fip_dnat; }
}
"""


@pytest.fixture
def router_id() -> Iterator[str]:
    """A fresh router id whose ``qrouter-`` namespace exists for the test."""
    rid = str(uuid.uuid4())
    netns.ensure(f"qrouter-{rid}")
    try:
        yield rid
    finally:
        netns.delete(f"qrouter-{rid}")


def nat_show(rid: str, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "floatnet", "--os-url", f"http://127.0.0.1:{free_port()}"]
    return subprocess.run([*argv, "router-nat-show", rid, *extra], capture_output=True, text=True, timeout=60)


def test_shows_the_table_and_maps(router_id: str) -> None:
    namespace = f"qrouter-{router_id}"
    missing = nat_show(router_id)
    assert missing.returncode == 1 and f"No NAT table ip floatnet in {namespace}" in missing.stderr
    subprocess.run(["ip", "netns", "exec", namespace, "nft", "-f", "-"], input=TABLE, text=True, check=True)
    shown = nat_show(router_id)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"# ip netns exec {namespace} nft list table ip floatnet\n")
    assert "203.0.113.10 : 10.0.0.5" in shown.stdout and "10.0.0.5 : 203.0.113.10" in shown.stdout
    as_json = nat_show(router_id, "-f", "json")
    assert as_json.returncode == 0, as_json.stderr
    maps = {
        item["map"]["name"]: item["map"] for item in json.loads(as_json.stdout)["nftables"] if "map" in item
    }
    assert set(maps) == {"fip_dnat", "fip_snat"}
    assert maps["fip_dnat"]["elem"] == [["203.0.113.10", "10.0.0.5"]]
