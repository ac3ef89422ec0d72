"""Issue 4 end to end: VLAN isolation on one physnet, tags on the wire, DHCP and DNS for instances.

vm1 and vm2 on VLAN 100, vm3 on VLAN 200 with the same CIDR (10.0.0.0/24, pool .200–.250) on the same physnet:
if frames leaked between VLANs, vm3 would reach vm1 by ARP. A router (interface + gateway) gives the DHCP
namespace its way out to the lab's upstream DNS.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from floatnet.linux.sg_render import qvo_dev
from tests.e2e.fabric import Fabric, wait_until
from tests.e2e.topology import Seed, Vm, add_vm, build_seed, create_network, in_ns, ping


@pytest.fixture(scope="module")
def l2(fabric: Fabric) -> Seed:
    seed = build_seed(fabric, instances=("vm1", "vm2"))
    vlan200 = create_network(fabric, "vlan_200", vlan=200)
    fabric.cli(
        "subnet-create", "--enable-dhcp", "--ip-version", "4", "--name", "vlan_200_subnet01",
        "--allocation-pool", "start=10.0.0.200,end=10.0.0.250", vlan200["id"], "10.0.0.0/24",
    )  # fmt: skip
    add_vm(seed, "vm3", vlan200["id"])
    return seed


def _dhcp_port(f: Fabric, network_id: str) -> dict[str, Any]:
    ports = f.api("GET", "/ports", params={"network_id": network_id, "device_owner": "network:dhcp"})["ports"]
    assert len(ports) == 1, ports
    return dict(ports[0])


def _lease(f: Fabric, vm: Vm) -> dict[str, str]:
    return dict(json.loads(f.lab("lease", vm.name).stdout))


def test_ports_active_and_tagged(l2: Seed) -> None:
    f = l2.fabric
    for name, tag in (("vm1", 100), ("vm2", 100), ("vm3", 200)):
        vm = l2.vms[name]
        port = f.sdk().network.get_port(vm.port_id)
        assert port.status == "ACTIVE", (name, port.status)
        assert port.binding_host_id == f.host
        dev = qvo_dev(vm.port_id)  # the hybrid plug's OVS end
        ovs_tag = f.ovs_vsctl("get", "Port", dev, "tag").strip()
        assert ovs_tag == str(tag), (name, ovs_tag)


def test_dhcp_gives_fixed_ip_gateway_and_dns(l2: Seed) -> None:
    f, vm = l2.fabric, l2.vms["vm1"]
    port = f.api("GET", f"/ports/{vm.port_id}")["port"]
    dhcp_ip = _dhcp_port(f, l2.private["id"])["fixed_ips"][0]["ip_address"]
    lease = _lease(f, vm)
    assert lease["ip"] == port["fixed_ips"][0]["ip_address"]
    assert lease["router"] == l2.private_subnet["gateway_ip"] == "10.0.0.1"
    assert lease["dns"].split() == [dhcp_ip], "no dns_nameservers: dnsmasq itself is the resolver"
    addrs = json.loads(in_ns(vm.ns, "ip", "-j", "-4", "addr", "show", "eth0", check=True).stdout)
    assert f"{lease['ip']}/24" in {f"{a['local']}/{a['prefixlen']}" for a in addrs[0]["addr_info"]}
    routes = json.loads(in_ns(vm.ns, "ip", "-j", "route", "show", "default", check=True).stdout)
    assert routes[0]["gateway"] == "10.0.0.1"
    resolv = (f.lab("exec", vm.name, "--", "cat", "/etc/resolv.conf").stdout).split("\n")
    assert f"nameserver {dhcp_ip}" in resolv


def test_same_vlan_reaches(l2: Seed) -> None:
    assert ping(l2.vms["vm1"].ns, l2.vms["vm2"].ip)


def test_other_vlan_isolated(l2: Seed) -> None:
    vm3 = l2.vms["vm3"]
    assert vm3.ip.startswith("10.0.0.2"), vm3.ip
    dhcp200 = _lease(l2.fabric, vm3)["serverid"]
    assert ping(vm3.ns, dhcp200), "vm3 reaches its own VLAN's DHCP server (positive control)"
    assert not ping(vm3.ns, l2.vms["vm1"].ip, count=3), "VLAN 200 must not reach VLAN 100"
    assert not ping(l2.vms["vm1"].ns, vm3.ip, count=3)


def _capture(f: Fabric, dev: str, bpf: list[str], traffic: list[str], traffic_ns: str) -> str:
    """tcpdump ``dev`` in the upstream namespace (link headers) while ``traffic`` runs in ``traffic_ns``."""
    ns = f"{f.prefix}upstream"
    argv = ["ip", "netns", "exec", ns, "tcpdump", "-e", "-nn", "-l", "-c", "3", "-i", dev, *bpf]
    dump = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        in_ns(traffic_ns, *traffic)
        out, _ = dump.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        dump.kill()
        out, _ = dump.communicate()
    return out


def test_trunk_sees_tag_100(l2: Seed) -> None:
    """ARP for an absent address floods the VLAN, so the physnet's trunk link sees it tagged 100."""
    f = l2.fabric
    out = _capture(f, f"{f.prefix}u1", ["vlan", "and", "arp"], ["arping", "-c", "3", "-w", "3", "-I", "eth0",
                   "10.0.0.99"], l2.vms["vm1"].ns)  # fmt: skip
    lines = [line for line in out.splitlines() if "10.0.0.99" in line]
    assert lines, out
    assert all("vlan 100" in line and "802.1Q" in line for line in lines), out


def test_flat_is_untagged(l2: Seed) -> None:
    """Upstream pings the router's gateway address over the flat physnet: frames carry no 802.1Q header."""
    f = l2.fabric
    out = _capture(f, f"{f.prefix}u0", ["icmp"], ["ping", "-c", "3", "-i", "0.2", l2.gateway_ip()],
                   f"{f.prefix}upstream")  # fmt: skip
    lines = [line for line in out.splitlines() if "ICMP" in line]
    assert len(lines) >= 2, out
    assert not any("802.1Q" in line or "vlan" in line for line in lines), out


def _hostname(f: Fabric, port_id: str) -> str:
    state = f.api("GET", f"/floatnet/hosts/{f.host}/state")
    for net in state["networks"]:
        for host in (net.get("dhcp") or {}).get("hosts", []):
            if host["port_id"] == port_id:
                return str(host["hostname"])
    raise AssertionError(f"port {port_id} has no DHCP host entry")


def test_instance_resolves_own_name_and_upstream_zone(l2: Seed) -> None:
    f, vm = l2.fabric, l2.vms["vm1"]
    name = _hostname(f, vm.port_id)
    own = f.lab("exec", vm.name, "--", "getent", "ahostsv4", name, check=False)
    assert own.returncode == 0 and own.stdout.split()[0] == vm.ip, own.stdout + own.stderr

    def upstream_name() -> bool:
        out = f.lab("exec", vm.name, "--", "getent", "ahostsv4", "www.example.test", check=False).stdout
        return bool(out) and out.split()[0] == "198.51.100.80"

    wait_until(upstream_name, 10, "www.example.test resolved through the instance's DNS server")


def test_host_resolv_conf_untouched(l2: Seed) -> None:
    with open("/etc/resolv.conf") as handle:
        host = handle.read()
    assert "198.51.100" not in host and "10.0.0." not in host


PROBE_SCRIPT = """#!/bin/sh
case "$1" in bound|renew) printf 'ip=%s\\nntp=%s\\n' "$ip" "$ntpsrv" > "$RESULT" ;; esac
exit 0
"""


def _probe_lease(vm: Vm, tmp: Path) -> dict[str, str]:
    """One DHCP exchange from the instance asking for option 42 (NTP servers); the script only records the
    answer (the instance's own DHCP client keeps its configuration)."""
    script, result = tmp / "probe.sh", tmp / f"probe-{vm.name}"
    script.write_text(PROBE_SCRIPT)
    script.chmod(0o755)
    result.unlink(missing_ok=True)
    argv = ["env", f"RESULT={result}", "busybox", "udhcpc", "-i", "eth0", "-s", str(script), "-n", "-q", "-f",
            "-t", "3", "-T", "1", "-A", "1", "-O", "ntpsrv"]  # fmt: skip
    in_ns(vm.ns, *argv, check=True)
    return dict(line.split("=", 1) for line in result.read_text().splitlines())


def test_port_extra_dhcp_option_reaches_the_instance(l2: Seed, tmp_path: Path) -> None:
    """extra_dhcp_opt end to end: set on vm1's port through the API, the agent hands it to the network's
    dnsmasq, vm1's DHCP client receives it; vm2 on the same network does not."""
    f, vm1, vm2 = l2.fabric, l2.vms["vm1"], l2.vms["vm2"]
    body = {"port": {"extra_dhcp_opts": [{"opt_name": "ntp-server", "opt_value": "192.0.2.123"}]}}
    f.api("PUT", f"/ports/{vm1.port_id}", json=body)
    wait_until(lambda: _probe_lease(vm1, tmp_path)["ntp"] == "192.0.2.123", 20, "vm1 gets its NTP option")
    assert _probe_lease(vm1, tmp_path)["ip"] == vm1.ip
    other = _probe_lease(vm2, tmp_path)
    assert other["ip"] == vm2.ip and other["ntp"] == ""


def test_port_dns_name_is_answered_by_the_network_dnsmasq(l2: Seed) -> None:
    """dns-integration: a port's dns_name set through the API is what the network's dnsmasq answers, under
    the FQDN its dns_assignment shows."""
    f, vm1, vm2 = l2.fabric, l2.vms["vm1"], l2.vms["vm2"]
    port = f.api("PUT", f"/ports/{vm2.port_id}", json={"port": {"dns_name": "web-two"}})["port"]
    [assignment] = port["dns_assignment"]
    assert assignment["fqdn"] == "web-two.openstacklocal."

    def answered() -> bool:
        out = f.lab("exec", vm1.name, "--", "getent", "ahostsv4", "web-two.openstacklocal", check=False).stdout
        return bool(out) and out.split()[0] == vm2.ip

    wait_until(answered, 20, "web-two.openstacklocal resolved by the network's dnsmasq")
