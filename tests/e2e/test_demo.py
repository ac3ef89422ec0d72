"""``floatnet demo`` touches only what it created (issue 17).

The demo refuses a URL where a server it did not start answers; a foreign network, router and floating IP
with the demo's own names (``vlan_100``, ``public_net``, ``router1``) on the demo's server survive both
``demo --down`` (which tears down a demo left running without running it again) and ``demo --cleanup``,
while everything the demo made (recorded ids, namespaces, its OVS and its namespace) is gone.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from floatnet.linux import netns as fl_netns
from floatnet.linux.ovs_daemon import own_daemons, private_netns
from tests.conftest import free_port
from tests.e2e.fabric import run
from tests.privileged import kill_ns_pids

FOREIGN = {"X-Project-Id": "foreign-project", "X-Roles": "member"}
PROJECT = "foreign-project"


@dataclass
class DemoRun:
    state: Path
    port: int
    prefix: str
    foreign_namespaces: list[str] = field(default_factory=list)  # the agent serves foreign routers too

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def demo(self, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-m", "floatnet", "demo", "--state-dir", str(self.state),
                "--bind", f"127.0.0.1:{self.port}", "--prefix", self.prefix, *args]  # fmt: skip
        return run(argv, check=False, timeout=400)

    def ids(self) -> dict[str, str]:
        return dict(json.loads((self.state / "demo.json").read_text())["ids"])

    def with_server(self) -> dict[str, set[str]]:
        """The ids of networks, routers, floating IPs and security group rules in the demo's database (its server
        run briefly)."""
        up = [sys.executable, "-m", "floatnet", "up", "--detach", "--no-agent", "--state-dir", str(self.state),
              "--config", str(self.state / "floatnet.ini"), "--bind", f"127.0.0.1:{self.port}"]  # fmt: skip
        run(up)
        try:
            found = {kind: {item["id"] for item in api(self.url, "GET", f"/{kind}")[kind]}
                     for kind in ("networks", "routers", "floatingips")}  # fmt: skip
            rules = api(self.url, "GET", "/security-group-rules")["security_group_rules"]
            return found | {"security_group_rules": {rule["id"] for rule in rules}}
        finally:
            run([sys.executable, "-m", "floatnet", "down", "--state-dir", str(self.state)])


def api(url: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
    answer = httpx.request(method, f"{url}/v2.0{path}", json=body, headers=headers, timeout=10)
    assert answer.status_code < 300, answer.text
    return answer.json()


@pytest.fixture
def demo_run() -> Iterator[DemoRun]:
    state = Path(tempfile.mkdtemp(prefix="floatnet-demo-"))
    run_ = DemoRun(state, free_port(), f"d{secrets.token_hex(2)}-")
    yield run_
    run_.demo("--down")
    run([sys.executable, "-m", "floatnet", "down", "--state-dir", str(state)], check=False)
    own_daemons(state / "ovs").stop()
    for ns in fl_netns.list_names([run_.prefix]) + [ns for ns in run_.foreign_namespaces if fl_netns.exists(ns)]:
        kill_ns_pids(ns)
        fl_netns.delete(ns)
    shutil.rmtree(state, ignore_errors=True)


def _foreign_topology(url: str) -> dict[str, str]:
    """A foreign project's network ``vlan_100``, external network ``public_net`` with a floating IP, router
    ``router1``: the demo's names, someone else's resources."""
    def create(kind: str, body: dict[str, Any]) -> str:  # as admin for the provider attributes, in its project
        return str(api(url, "POST", f"/{kind}s", {kind: {**body, "project_id": PROJECT}})[kind]["id"])

    vlan = create("network", {"name": "vlan_100", "provider:network_type": "vlan",
                              "provider:physical_network": "public_eth1", "provider:segmentation_id": 150})
    public = create("network", {"name": "public_net", "router:external": True, "provider:network_type": "vlan",
                                "provider:physical_network": "public_eth1", "provider:segmentation_id": 151})
    create("subnet", {"network_id": public, "cidr": "198.18.0.0/24", "ip_version": 4, "enable_dhcp": False,
                      "name": "public_eth0_subnet01"})
    fip = create("floatingip", {"floating_network_id": public})
    return {"vlan_100": vlan, "public_net": public, "router1": create("router", {"name": "router1"}),
            "floatingip": fip}  # fmt: skip


def test_demo_refuses_a_server_it_did_not_start(live_server: str, tmp_path: Path) -> None:
    port = int(live_server.rsplit(":", 1)[1])
    foreign = api(live_server, "POST", "/networks", {"network": {"name": "vlan_100"}}, FOREIGN)["network"]["id"]
    started = time.monotonic()
    argv = [sys.executable, "-m", "floatnet", "demo", "--state-dir", str(tmp_path / "demo"),
            "--bind", f"127.0.0.1:{port}", "--prefix", f"d{secrets.token_hex(2)}-"]  # fmt: skip
    for extra in ([], ["--down"], ["--cleanup"]):
        done = run([*argv, *extra], check=False)
        assert done.returncode == 1, done.stdout
        assert "this demo did not start answers on" in done.stderr and "--bind HOST:PORT" in done.stderr
    assert time.monotonic() - started < 30
    assert [n["id"] for n in api(live_server, "GET", "/networks")["networks"]] == [foreign]
    assert not (tmp_path / "demo" / "run").exists()


def test_demo_touches_only_what_it_created(demo_run: DemoRun) -> None:
    first = demo_run.demo()
    assert first.returncode == 0 and "all proofs hold" in first.stdout, first.stdout + first.stderr
    assert f"floatnet demo --down --state-dir {demo_run.state}" in first.stdout
    ours = demo_run.ids()
    foreign = _foreign_topology(demo_run.url)
    demo_run.foreign_namespaces.append(f"qrouter-{foreign['router1']}")

    down = demo_run.demo("--down")
    assert down.returncode == 0 and "everything the demo built is gone" in down.stdout, down.stdout + down.stderr
    assert "all proofs hold" not in down.stdout  # --down does not run the demo again
    assert not fl_netns.exists(f"qrouter-{ours['router1']}") and not fl_netns.list_names([demo_run.prefix])
    assert not fl_netns.exists(private_netns(demo_run.state / "ovs"))
    left = demo_run.with_server()
    assert {foreign["vlan_100"], foreign["public_net"]} <= left["networks"]
    assert left["routers"] == {foreign["router1"]} and left["floatingips"] == {foreign["floatingip"]}
    assert not {ours["vlan_100"], ours["public_net"]} & left["networks"]
    assert not {ours["sg_rule_icmp"], ours["sg_rule_http"]} & left["security_group_rules"]  # its rules too

    again = demo_run.demo("--cleanup")  # next to the foreign namesakes, from the same database
    assert again.returncode == 0 and "all proofs hold" in again.stdout, again.stdout + again.stderr
    assert "everything the demo built is gone" in again.stdout
    left = demo_run.with_server()
    assert left["routers"] == {foreign["router1"]} and left["floatingips"] == {foreign["floatingip"]}
    assert left["networks"] == {foreign["vlan_100"], foreign["public_net"]}


def test_demo_ipv6_proves_dual_stack_and_cleans_up(demo_run: DemoRun) -> None:
    """``floatnet demo --ipv6`` (issue 19): vm1's SLAAC address, its own address seen upstream (routed, not
    NATed), reachable from the upstream once ICMPv6 is admitted; ``--cleanup`` leaves nothing behind."""
    done = demo_run.demo("--ipv6", "--cleanup")
    out = done.stdout
    assert done.returncode == 0 and "all proofs hold" in out, out + done.stderr
    for claim in ("formed its EUI-64 address 2001:db8:1:0:", "own address: 2001:db8:100::80 saw 2001:db8:1:",
                  "ping dropped (no IPv6 ingress rule)", "--ethertype IPv6 --protocol ipv6-icmp default"):
        assert claim in out, claim
    assert "everything the demo built is gone" in out
    assert not fl_netns.list_names([demo_run.prefix])
    left = demo_run.with_server()["security_group_rules"]
    assert len(left) == 4, left  # the default group's own four rules: the demo's ICMPv6 rule went with it
