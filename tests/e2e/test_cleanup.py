"""``floatnet cleanup`` removes exactly what floatnet owns on this node (issue 17).

After the seed's topology ran and the agent stopped (leaving its dataplane up, on purpose), ``cleanup
--dry-run`` lists the agent's namespaces, dnsmasq processes and OVS ports and changes nothing; ``cleanup``
removes them, while a foreign ``qrouter-`` namespace (another L3 agent's) with its nft table, a foreign OVS
bridge with a port, a foreign nft table where OVS runs and the instance's own tap port (the hypervisor's)
survive. A second run finds nothing; ``down --purge`` on a state dir with nothing left says so.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from floatnet.linux import netns as fl_netns
from floatnet.linux.dnsmasq import Dnsmasq
from tests.e2e.fabric import Fabric, run
from tests.e2e.topology import Seed


def _cleanup(fabric: Fabric, *extra: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "floatnet", "cleanup", "--state-dir", str(fabric.workdir / "state"),
            "--config", str(fabric.config_path), "--ovs-netns", fabric.ovs_netns, *extra]  # fmt: skip
    return run(argv)


def _vsctl(fabric: Fabric, *args: str) -> str:
    return run(["ovs-vsctl", f"--db={fabric.ovsdb}", "--timeout=10", *args]).stdout.strip()


def _tables(ns: str) -> str:
    return run(["ip", "netns", "exec", ns, "nft", "list", "tables"]).stdout


def test_cleanup_removes_only_what_floatnet_owns(fabric: Fabric, seed: Seed) -> None:
    fabric.stop("agent")
    prefix, state = fabric.prefix, fabric.workdir / "state"
    owned_ns = [seed.router_ns, f"qdhcp-{seed.private['id']}"]
    dnsmasq = Dnsmasq(state / "dhcp").running()
    agent_ports = sorted(p for p in _vsctl(fabric, "list-ports", fabric.bridges["public_eth1"]).split()
                         if p.startswith(("qr-", "qg-")))  # fmt: skip
    vm_port = _vsctl(fabric, "--bare", "--columns=name", "find", "Interface",
                     f"external_ids:iface-id={seed.vms['vm1'].port_id}")  # fmt: skip
    foreign_ns, foreign_br, foreign_table = f"qrouter-{uuid.uuid4()}", f"{prefix}fb", f"{prefix[:-1]}ft"
    fl_netns.ensure(foreign_ns)
    try:
        run(["ip", "netns", "exec", foreign_ns, "nft", "add", "table", "inet", "neutron"])
        run(["ip", "netns", "exec", fabric.ovs_netns, "nft", "add", "table", "inet", foreign_table])
        _vsctl(fabric, "add-br", foreign_br, "--", "set", "bridge", foreign_br, "datapath_type=netdev")
        _vsctl(fabric, "add-port", foreign_br, f"{prefix}fp", "--", "set", "interface", f"{prefix}fp",
               "type=internal")  # fmt: skip

        listed = _cleanup(fabric, "--dry-run").stdout
        for ns in owned_ns:
            assert f"would remove namespace {ns}" in listed, listed
        assert all(f"(pid {pid})" in listed for pid in dnsmasq.values()) and dnsmasq
        assert agent_ports and all(f"would remove OVS port {port}" in listed for port in agent_ports), listed
        assert foreign_ns not in listed and foreign_br not in listed and vm_port not in listed
        assert all(fl_netns.exists(ns) for ns in owned_ns) and Dnsmasq(state / "dhcp").running() == dnsmasq

        removed = _cleanup(fabric).stdout
        assert "could not" not in removed, removed
        assert not any(fl_netns.exists(ns) for ns in owned_ns)
        assert not Dnsmasq(state / "dhcp").running()
        ports = set(_vsctl(fabric, "list-ports", fabric.bridges["public_eth1"]).split())
        assert not ports & set(agent_ports) and vm_port in ports  # the hypervisor's port stays
        assert set(fabric.bridges.values()) <= set(_vsctl(fabric, "list-br").split())
        assert _vsctl(fabric, "list-ports", foreign_br) == f"{prefix}fp"
        assert "table inet neutron" in _tables(foreign_ns)
        assert f"table inet {foreign_table}" in _tables(fabric.ovs_netns)
        assert not (state / "agent").exists()
        assert "nothing of floatnet's left" in _cleanup(fabric).stdout
    finally:
        fl_netns.delete(foreign_ns)
        _vsctl(fabric, "--if-exists", "del-br", foreign_br)


def test_down_purge_on_a_clean_state_dir(tmp_path: Path) -> None:
    done = run([sys.executable, "-m", "floatnet", "down", "--purge", "--state-dir", str(tmp_path)])
    assert "floatnet is not running" in done.stdout and "nothing of floatnet's left" in done.stdout
