"""Issue 5 end to end, items 6 and 7: agent restarts never drop packets, and a restarted agent converges.

6. SIGTERM + start under a 20 connects/s probe to the floating IP: zero failed probes, and the router's nft
   table is not rebuilt (every table/chain/rule/map handle stays the same).
7. SIGKILL, change state behind its back (a second floating IP associated to vm2, the first deleted), add
   foreign objects next to floatnet's, start it: it converges, and removes only what it owns.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from typing import Any

from floatnet.linux.sg_render import qvo_dev
from tests.e2e.fabric import wait_until
from tests.e2e.topology import Seed, in_ns, probe, probe_argv, wait_fip_status, whoami


def _upstream(seed: Seed) -> str:
    return f"{seed.fabric.prefix}upstream"


def _nft_handles(seed: Seed) -> list[tuple[str, str, Any]]:
    """Every object of the router's floatnet table with its kernel handle (a rebuild gives new handles)."""
    out = in_ns(seed.router_ns, "nft", "-j", "list", "table", "ip", "floatnet", check=True).stdout
    handles = []
    for item in json.loads(out)["nftables"]:
        for kind, body in item.items():
            if isinstance(body, dict) and "handle" in body:
                handles.append((kind, str(body.get("name") or body.get("chain") or ""), body["handle"]))
    return sorted(handles)


def _map_elements(seed: Seed, name: str) -> dict[str, str]:
    out = in_ns(seed.router_ns, "nft", "-j", "list", "map", "ip", "floatnet", name, check=True).stdout
    for item in json.loads(out)["nftables"]:
        if "map" in item:
            return {str(key): str(value) for key, value in item["map"].get("elem", [])}
    return {}


def _qg_addresses(seed: Seed) -> set[str]:
    out = json.loads(in_ns(seed.router_ns, "ip", "-j", "-4", "addr", "show", check=True).stdout)
    return {a["local"] for dev in out if dev["ifname"].startswith("qg-") for a in dev["addr_info"]}


def test_restart_under_probe_drops_nothing(seed: Seed) -> None:
    f, fip = seed.fabric, seed.fips["fip1"]["floating_ip_address"]
    before = _nft_handles(seed)
    assert any(kind == "table" for kind, _, _ in before), before
    argv = probe_argv("rate", fip, "7", "--rate", "20", "--duration", "10")
    rate = subprocess.Popen(
        ["ip", "netns", "exec", _upstream(seed), *argv], stdout=subprocess.PIPE, text=True
    )
    try:
        time.sleep(1.5)
        f.stop("agent", signal.SIGTERM)
        f.start_agent()
        out, _ = rate.communicate(timeout=30)
    finally:
        if rate.poll() is None:
            rate.kill()
    result = json.loads(out.strip().splitlines()[-1])
    assert result["attempts"] == 200 and result["failures"] == 0, result
    time.sleep(2 * 2.0)  # two report intervals: a late full resync would show up now
    assert _nft_handles(seed) == before, "the nft table was rebuilt although nothing changed"


def _add_foreign_objects(seed: Seed) -> dict[str, str]:
    """Objects floatnet does not own, next to the ones it does: they must survive its stale sweep."""
    f = seed.fabric
    ns, dev = f"{f.prefix}foreign", f"{f.prefix}fx"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    subprocess.run(
        ["ip", "link", "add", dev, "type", "veth", "peer", "name", "eth0", "netns", ns], check=True
    )
    f.ovs_vsctl("add-port", f.bridges["public_eth1"], dev)
    in_ns(seed.router_ns, "nft", "add", "table", "inet", "foreign", check=True)
    return {"ns": ns, "dev": dev}


def test_killed_agent_converges_and_removes_only_its_own(seed: Seed) -> None:
    f = seed.fabric
    old = seed.fips["fip1"]
    f.stop("agent", signal.SIGKILL)
    new = f.cli("floatingip-create", seed.public["id"])
    f.cli("floatingip-associate", new["id"], seed.vms["vm2"].port_id, "-f", "table")
    f.cli("floatingip-delete", old["id"], "-f", "table")
    foreign = _add_foreign_objects(seed)
    taps_before = {qvo_dev(vm.port_id) for vm in seed.vms.values()}  # the hybrid plug's OVS ends
    f.start_agent()
    new_ip, old_ip = new["floating_ip_address"], old["floating_ip_address"]

    def converged() -> bool:
        seen = whoami(_upstream(seed), new_ip, timeout=0.5)
        return seen is not None and seen["server"] == "vm2" and old_ip not in _qg_addresses(seed)

    wait_until(converged, 20, "the restarted agent converged")
    wait_fip_status(f, new["id"], "ACTIVE")
    dnat = _map_elements(seed, "fip_dnat")
    assert dnat == {new_ip: seed.vms["vm2"].ip}, dnat
    assert whoami(_upstream(seed), old_ip, timeout=1.0) is None
    code, _ = probe(_upstream(seed), "get", old_ip, "80", "--timeout", "1")
    assert code != 0
    ports = set(f.ovs_vsctl("list-ports", f.bridges["public_eth1"]).split())
    assert foreign["dev"] in ports and taps_before <= ports, ports
    assert f"{f.prefix}p1" in ports, "the physical (lab) link stays in its bridge"
    assert in_ns(seed.router_ns, "nft", "list", "table", "inet", "foreign").returncode == 0
    assert subprocess.run(["ip", "netns", "exec", foreign["ns"], "true"]).returncode == 0
