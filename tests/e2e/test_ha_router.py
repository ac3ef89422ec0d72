"""l3-ha on one node (issue 15): the seed's router made HA runs as a single keepalived replica on the only L3
agent — the agent plugs its ``ha-`` device on the project's HA network, runs keepalived with the gateway, the
internal gateway and the floating IP as virtual addresses, the replica becomes MASTER and says so
(``ha_state: active`` in ``l3-agents``), and the floating IP answers from the upstream as before. A second
floating IP reaches keepalived's configuration by reload, without a transition. With ``[agent]
ha_conntrackd_enabled`` the replica runs conntrackd too, restarted when killed or when its ``ha-`` device is
re-created."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

from floatnet.linux import daemons
from floatnet.linux.conntrackd import SYNC_GROUP, Conntrackd
from floatnet.linux.radvd import Radvd
from tests.e2e.fabric import Fabric, wait_until
from tests.e2e.test_diagnose import diagnose
from tests.e2e.topology import Seed, build_seed, in_ns, ping, wait_fip_status, whoami


def _ha_states(f: Fabric, router_id: str) -> list[Any]:
    return [a["ha_state"] for a in f.api("GET", f"/routers/{router_id}/l3-agents")["agents"]]


def _vrrp_pid(f: Fabric, router_id: str) -> int:
    return int((f.workdir / "state" / "keepalived" / router_id / "vrrp.pid").read_text())


def test_ha_router_on_the_only_agent(fabric: Fabric) -> None:
    f = fabric
    seed: Seed = build_seed(f)
    rid, upstream = seed.router["id"], f"{f.prefix}upstream"
    f.api("PUT", f"/routers/{rid}", json={"router": {"admin_state_up": False, "ha": True}})
    assert f.api("PUT", f"/routers/{rid}", json={"router": {"admin_state_up": True}})["router"]["ha"] is True
    wait_until(lambda: _ha_states(f, rid) == ["active"], 60, "the only replica becomes the active one")
    fip = str(seed.fips["fip1"]["floating_ip_address"])
    wait_fip_status(f, seed.fips["fip1"]["id"], "ACTIVE")
    assert wait_until(lambda: ping(upstream, fip, count=1), 20, "the floating IP answers")
    seen = whoami(upstream, fip)
    assert seen is not None and seen["server"] == "vm1", seen

    config = Path(f.workdir / "state" / "keepalived" / rid / "keepalived.conf").read_text()
    assert f"{fip}/32 dev qg-" in config and "nopreempt" in config and "state BACKUP" in config
    links = json.loads(in_ns(seed.router_ns, "ip", "-j", "-4", "addr", "show").stdout)
    ha = [link for link in links if link["ifname"].startswith("ha-")]
    assert len(ha) == 1
    held = {a["local"] for a in ha[0]["addr_info"]}
    assert any(a.startswith("169.254.0.") for a in held) and any(a.startswith("169.254.19") for a in held)

    pid = _vrrp_pid(f, rid)
    second = f.cli("floatingip-create", seed.public["id"])
    f.cli("floatingip-associate", second["id"], seed.vms["vm2"].port_id, "-f", "table")
    wait_fip_status(f, second["id"], "ACTIVE")
    address = str(second["floating_ip_address"])
    wait_until(lambda: f"{address}/32" in Path(f.workdir / "state" / "keepalived" / rid / "keepalived.conf")
               .read_text(), 20, "keepalived is given the second floating IP")  # fmt: skip
    assert wait_until(lambda: ping(upstream, address, count=1), 20, "the second floating IP answers")
    seen = whoami(upstream, address)
    assert seen is not None and seen["server"] == "vm2", seen
    assert _vrrp_pid(f, rid) == pid and _ha_states(f, rid) == ["active"]  # a reload, not a restart


def _conntrackd_pid(f: Fabric, router_id: str) -> int | None:
    return Conntrackd(f.workdir / "state" / "conntrackd").pid(router_id)


def test_conntrackd_beside_keepalived_and_restarted_when_killed_or_its_device_recreated(fabric: Fabric) -> None:
    """``[agent] ha_conntrackd_enabled = true`` (agent restarted): the replica runs conntrackd in its namespace
    and keepalived notifies it; conntrackd SIGKILLed by PID is started again by the agent (drift), keepalived
    untouched (no transition). The ``ha-`` device deleted behind the agent's back: the agent plugs it again and
    conntrackd runs on the new device (in its sync group), and keepalived is restarted there and becomes the
    MASTER again (the old one lives on, FAULT for good, bound to the gone device's index)."""
    f = fabric
    rid = f.api("GET", "/routers")["routers"][0]["id"]
    f.stop("agent")
    f.config_path.write_text(f.config_path.read_text() + "ha_conntrackd_enabled = true\n")
    f.start_agent()
    first = wait_until(lambda: _conntrackd_pid(f, rid), 60, "the agent starts conntrackd for the HA router")
    assert daemons.in_netns(first, f"qrouter-{rid}")
    notify = f.workdir / "state" / "conntrackd" / rid / "notify.sh"
    wait_until(lambda: f'"/bin/sh {notify} master"' in _keepalived_conf(f, rid), 30, "keepalived notifies it")
    vrrp = _vrrp_pid(f, rid)
    wait_until(lambda: _ha_states(f, rid) == ["active"], 30, "still the active replica")
    os.kill(first, signal.SIGKILL)
    again = wait_until(lambda: _conntrackd_pid(f, rid), 30, "the agent restarts the killed conntrackd")
    assert again != first and _vrrp_pid(f, rid) == vrrp and _ha_states(f, rid) == ["active"]
    ns = f"qrouter-{rid}"
    ha = next(link["ifname"] for link in json.loads(in_ns(ns, "ip", "-j", "link", "show").stdout)
              if link["ifname"].startswith("ha-"))  # fmt: skip
    in_ns(ns, "ip", "link", "del", ha, check=True)
    third = wait_until(lambda: (pid := _conntrackd_pid(f, rid)) not in (None, again) and pid, 60,
                       "the agent restarts conntrackd on the re-created ha- device")  # fmt: skip
    assert daemons.in_netns(third, ns)
    wait_until(lambda: SYNC_GROUP in in_ns(ns, "ip", "maddr", "show", "dev", ha).stdout, 20,
               "conntrackd joined its sync group on the new device")  # fmt: skip
    # keepalived, bound to the old device's index, would stay FAULT for good (alive): it is restarted too
    wait_until(lambda: _vrrp_pid(f, rid) != vrrp, 60, "the agent restarts keepalived on the re-created device")
    wait_until(lambda: "169.254.0." in in_ns(ns, "ip", "-4", "addr", "show", "dev", ha).stdout, 30,
               "the replica is the MASTER again, holding the primary VIP on the new device")  # fmt: skip
    wait_until(lambda: _ha_states(f, rid) == ["active"], 30, "and reports active")


def _keepalived_conf(f: Fabric, router_id: str) -> str:
    return Path(f.workdir / "state" / "keepalived" / router_id / "keepalived.conf").read_text()


def _ha_check(f: Fabric, address: str) -> dict[str, Any]:
    _code, doc = diagnose(f, address)
    found = [c for c in doc["checks"] if c["name"] == "ha.single_holder"]
    assert len(found) == 1, doc
    return dict(found[0])


def test_diagnose_checks_that_exactly_one_replica_holds_the_floating_ip(fabric: Fabric) -> None:
    """``floatnet diagnose FIP`` on the HA router: the one replica (this node, active, its namespace holding
    the /32) passes; with the /32 taken off the namespace behind everyone's back (keepalived SIGSTOPped, so it
    does not put it back), no replica holds it though the agent still reports active: FAIL naming the node."""
    f = fabric
    rid = f.api("GET", "/routers")["routers"][0]["id"]
    fip = next(x for x in f.api("GET", "/floatingips")["floatingips"] if x["router_id"] == rid and x["port_id"])
    address, ns = str(fip["floating_ip_address"]), f"qrouter-{rid}"
    wait_until(lambda: _ha_states(f, rid) == ["active"], 30, "the replica is active")
    found = _ha_check(f, address)
    assert found["status"] == "ok" and f"{f.host} (active, namespace holds it)" in found["reason"], found
    qg = next(link["ifname"] for link in json.loads(in_ns(ns, "ip", "-j", "link", "show").stdout)
              if link["ifname"].startswith("qg-"))  # fmt: skip
    vrrp = _vrrp_pid(f, rid)
    os.kill(vrrp, signal.SIGSTOP)  # keepalived would put its address back at once
    try:
        in_ns(ns, "ip", "addr", "del", f"{address}/32", "dev", qg, check=True)
        found = _ha_check(f, address)
        assert found["status"] == "FAIL" and "no replica holds" in found["reason"], found
        assert f"{f.host} (active, namespace lacks it)" in found["reason"], found
    finally:
        in_ns(ns, "ip", "addr", "replace", f"{address}/32", "dev", qg)
        os.kill(vrrp, signal.SIGCONT)


def test_radvd_runs_on_the_active_replica(fabric: Fabric) -> None:
    """An IPv6 SLAAC subnet on the HA router: its active replica advertises it (radvd in its namespace with the
    prefix), as Neutron's HA routers do; removed with the interface."""
    f = fabric
    rid = f.api("GET", "/routers")["routers"][0]["id"]
    private = next(s for s in f.api("GET", "/subnets")["subnets"] if s["cidr"] == "10.0.0.0/24")
    body = {"network_id": private["network_id"], "ip_version": 6, "cidr": "2001:db8:15::/64",
            "ipv6_ra_mode": "slaac", "ipv6_address_mode": "slaac"}  # fmt: skip
    v6 = f.api("POST", "/subnets", json={"subnet": body})["subnet"]
    f.api("PUT", f"/routers/{rid}/add_router_interface", json={"subnet_id": v6["id"]})
    radvd = Radvd(f.workdir / "state" / "radvd")
    try:
        wait_until(lambda: _ha_states(f, rid) == ["active"], 30, "the replica is active")
        pid = wait_until(lambda: radvd.pid(rid), 30, "radvd starts on the active replica")
        assert daemons.in_netns(pid, f"qrouter-{rid}")
        assert "prefix 2001:db8:15::/64" in (f.workdir / "state" / "radvd" / rid / "radvd.conf").read_text()
    finally:
        f.api("PUT", f"/routers/{rid}/remove_router_interface", json={"subnet_id": v6["id"]})
        f.api("DELETE", f"/subnets/{v6['id']}")
    wait_until(lambda: radvd.pid(rid) is None, 30, "radvd stops with the interface")
