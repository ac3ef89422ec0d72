"""floatnet.linux.dnsmasq against real dnsmasq and a real DHCP client (busybox udhcpc) in namespaces.

    client (eth0, udhcpc) --veth-- qdhcp (tapX 10.0.0.2/24, dnsmasq) --veth-- upstream 192.0.2.53 (DNS)

The client's udhcpc script writes only the client namespace's files (/etc/netns/<ns>/resolv.conf, which
``ip netns exec`` bind-mounts over /etc/resolv.conf) and a result file; the host's /etc/resolv.conf must not
change.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from floatnet.linux import links, netns
from floatnet.linux.dnsmasq import DhcpHost, DhcpSpec, DhcpSubnet, Dnsmasq
from tests.dataplane.conftest import sh

MAC = "fa:16:3e:11:22:33"
UNKNOWN_MAC = "fa:16:3e:99:99:99"
SCRIPT = """#!/bin/sh
case "$1" in bound|renew) ;; *) exit 0 ;; esac
mkdir -p "/etc/netns/$NSNAME"
: > "/etc/netns/$NSNAME/resolv.conf"
for d in $dns; do echo "nameserver $d" >> "/etc/netns/$NSNAME/resolv.conf"; done
printf 'ip=%s\\nmask=%s\\nrouter=%s\\ndns=%s\\nmtu=%s\\ndomain=%s\\nroutes=%s\\nntp=%s\\n' \\
  "$ip" "$mask" "$router" "$dns" "$mtu" "$domain" "$staticroutes" "$ntpsrv" > "$RESULT"
"""


@pytest.fixture
def dhcp_env(make_ns, tmp_path):
    client, qdhcp, upstream = make_ns("cli"), make_ns("qdhcp"), make_ns("dns")
    links.ensure_veth("tap0123456789a", "x", client, peer_name="eth0", mac=MAC, netns=qdhcp)
    links.add_address(qdhcp, "tap0123456789a", "10.0.0.2/24")
    links.ensure_veth("up0", "x", upstream, peer_name="eth0", netns=qdhcp)
    links.add_address(qdhcp, "up0", "192.0.2.1/24")
    links.add_address(upstream, "eth0", "192.0.2.53/24")
    up_dns = [
        "dnsmasq", "--conf-file=/dev/null", "--no-hosts", "--no-resolv", "--keep-in-foreground",
        "--port=53", "--listen-address=192.0.2.53", "--bind-interfaces", "--address=/example.test/192.0.2.7",
        "--user=root", "--pid-file=",
    ]  # fmt: skip
    upstream_proc = subprocess.Popen(netns.exec_argv(upstream, up_dns), stderr=subprocess.DEVNULL)
    state = tmp_path / "dhcp"
    dm = Dnsmasq(state)
    try:
        yield client, qdhcp, dm, tmp_path
    finally:
        dm.stop("net1")
        upstream_proc.kill()
        upstream_proc.wait()
        shutil.rmtree(f"/etc/netns/{client}", ignore_errors=True)


def spec(qdhcp: str, **kw) -> DhcpSpec:
    subnet = DhcpSubnet(
        id="sub1", cidr="10.0.0.0/24", gateway_ip="10.0.0.1", host_routes=(("192.0.2.128/25", "10.0.0.254"),)
    )
    base = dict(
        network_id="net1", netns=qdhcp, interface="tap0123456789a", subnets=(subnet,),
        hosts=(DhcpHost(MAC, "10.0.0.5", "vm1"),), dns_servers=("10.0.0.2",), upstream_dns=("192.0.2.53",),
        domain="fn.test", mtu=1400,
    )  # fmt: skip
    base.update(kw)
    return DhcpSpec(**base)  # type: ignore[arg-type]


def udhcpc(client: str, tmp: Path, mac: str | None = None) -> dict[str, str] | None:
    """Run udhcpc once in ``client``; the options it was given, or None without a lease."""
    script, result = tmp / "script.sh", tmp / f"result-{client}"
    script.write_text(SCRIPT)
    script.chmod(0o755)
    result.unlink(missing_ok=True)
    if mac:
        sh(["ip", "link", "set", "eth0", "address", mac], netns=client)
    env = dict(os.environ, NSNAME=client, RESULT=str(result))
    argv = [
        "busybox",
        "udhcpc",
        "-i",
        "eth0",
        "-s",
        str(script),
        "-n",
        "-q",
        "-f",
        "-t",
        "3",
        "-T",
        "1",
        "-A",
        "1",
        "-O",
        "staticroutes",
        "-O",
        "ntpsrv",
    ]
    proc = subprocess.run(netns.exec_argv(client, argv), env=env, capture_output=True, text=True, timeout=30)
    if proc.returncode != 0 or not result.exists():
        return None
    return dict(line.split("=", 1) for line in result.read_text().splitlines())


def test_lease_options_and_dns(dhcp_env):
    client, qdhcp, dm, tmp = dhcp_env
    host_resolv = Path("/etc/resolv.conf").read_bytes()
    assert dm.ensure(spec(qdhcp)) == "started"
    pid = dm.pid("net1")
    assert dm.running() == {"net1": pid}
    assert sh(["ip", "netns", "identify", str(pid)]).strip() == qdhcp
    lease = udhcpc(client, tmp)
    assert lease is not None
    assert lease["ip"] == "10.0.0.5" and lease["mask"] == "24"
    assert lease["router"].split() == ["10.0.0.1"] and lease["dns"].split() == ["10.0.0.2"]
    assert lease["mtu"] == "1400" and lease["domain"] == "fn.test"
    assert lease["routes"].split() == ["192.0.2.128/25", "10.0.0.254", "0.0.0.0/0", "10.0.0.1"]
    assert Path(f"/etc/netns/{client}/resolv.conf").read_text() == "nameserver 10.0.0.2\n"
    assert Path("/etc/resolv.conf").read_bytes() == host_resolv

    links.add_address(client, "eth0", "10.0.0.5/24")
    dig = ["dig", "+short", "+time=2", "+tries=2", "@10.0.0.2"]
    assert sh([*dig, "vm1.fn.test"], netns=client).strip() == "10.0.0.5"
    assert sh([*dig, "www.example.test"], netns=client).strip() == "192.0.2.7"  # forwarded upstream


def test_unknown_mac_gets_no_lease(dhcp_env):
    client, qdhcp, dm, tmp = dhcp_env
    dm.ensure(spec(qdhcp))
    assert udhcpc(client, tmp, mac=UNKNOWN_MAC) is None


def test_reload_on_file_change_restart_on_command_line_change(dhcp_env):
    client, qdhcp, dm, tmp = dhcp_env
    assert dm.ensure(spec(qdhcp, hosts=())) == "started"
    pid = dm.pid("net1")
    assert udhcpc(client, tmp) is None
    assert dm.ensure(spec(qdhcp, hosts=())) == "unchanged"
    subnet = DhcpSubnet(id="sub1", cidr="10.0.0.0/24", gateway_ip="10.0.0.1", dns_nameservers=("192.0.2.53",))
    assert dm.ensure(spec(qdhcp, subnets=(subnet,))) == "reloaded"  # new host + new DNS option: SIGHUP
    assert dm.pid("net1") == pid
    lease = udhcpc(client, tmp)
    assert lease is not None and lease["ip"] == "10.0.0.5" and lease["dns"].split() == ["192.0.2.53"]
    assert dm.ensure(spec(qdhcp, subnets=(subnet,), domain="other.test")) == "restarted"
    assert dm.pid("net1") not in (None, pid)
    assert dm.stop("net1") is True
    assert dm.running() == {} and not (tmp / "dhcp" / "net1").exists()
    assert dm.stop("net1") is False


def test_ipv6_subnet_next_to_ipv4_starts_and_still_leases_ipv4(dhcp_env):
    """Issue 18 item 5: an IPv6 DHCP subnet used to make dnsmasq refuse to start ("bad dhcp-range") and took
    the whole network's DHCP down. Now it gets a DHCPv6 static range and IPv4 keeps working."""
    client, qdhcp, dm, tmp = dhcp_env
    v6 = DhcpSubnet(id="sub6", cidr="2001:db8:1::/64", gateway_ip="2001:db8:1::1", dns_nameservers=("2001:db8::53",))
    hosts = (DhcpHost(MAC, "10.0.0.5", "vm1"), DhcpHost(MAC, "2001:db8:1::5", "vm1"))
    both = spec(qdhcp, subnets=(*spec(qdhcp).subnets, v6), hosts=hosts)
    assert "--dhcp-range=set:subnet-sub6,2001:db8:1::,static,64,86400s" in dm.argv(both)
    assert dm.ensure(both) == "started"
    opts = (tmp / "dhcp" / "net1" / "opts").read_text()
    assert "tag:subnet-sub6,option6:dns-server,[2001:db8::53]\n" in opts and "subnet-sub6,option:router" not in opts
    assert f"{MAC},[2001:db8:1::5],vm1" in (tmp / "dhcp" / "net1" / "host").read_text()
    lease = udhcpc(client, tmp)
    assert lease is not None and lease["ip"] == "10.0.0.5"


def test_port_options_reach_only_that_port(dhcp_env):
    """extra_dhcp_opts: the host entry sets the port's tag and only that port's client gets its options."""
    client, qdhcp, dm, tmp = dhcp_env
    options = (("ntp-server", "192.0.2.123", 4), ("bootfile-name", "ignored-v6", 6))
    hosts = (DhcpHost(MAC, "10.0.0.5", "vm1", "port-a", options), DhcpHost(UNKNOWN_MAC, "10.0.0.6", "vm2", "port-b"))
    assert dm.ensure(spec(qdhcp, hosts=hosts)) == "started"
    files = tmp / "dhcp" / "net1"
    assert f"{MAC},10.0.0.5,vm1,set:port-port-a" in (files / "host").read_text()
    opts = (files / "opts").read_text().splitlines()
    assert "tag:port-port-a,option:ntp-server,192.0.2.123" in opts and not any("ignored-v6" in o for o in opts)
    lease = udhcpc(client, tmp)
    assert lease is not None and lease["ip"] == "10.0.0.5" and lease["ntp"] == "192.0.2.123"
    other = udhcpc(client, tmp, mac=UNKNOWN_MAC)
    assert other is not None and other["ip"] == "10.0.0.6" and other["ntp"] == ""


def test_changes_with_port_tags_restart_instead_of_crashing(dhcp_env):
    """dnsmasq 2.90 segfaults on SIGHUP re-reading a hosts file with set: tags once it leased to a tagged
    host; with per-port options a change therefore restarts it, and it keeps serving."""
    client, qdhcp, dm, tmp = dhcp_env
    options = (("ntp-server", "192.0.2.123", 4),)
    tagged = DhcpHost(MAC, "10.0.0.5", "vm1", "port-a", options)
    assert dm.ensure(spec(qdhcp, hosts=(tagged, DhcpHost(UNKNOWN_MAC, "10.0.0.6", "vm2", "port-b")))) == "started"
    assert udhcpc(client, tmp) is not None and udhcpc(client, tmp, mac=UNKNOWN_MAC) is not None
    renamed = (tagged, DhcpHost(UNKNOWN_MAC, "10.0.0.6", "web-two", "port-b"))
    assert dm.ensure(spec(qdhcp, hosts=renamed)) == "restarted"
    time.sleep(0.5)
    assert dm.pid("net1") is not None
    lease = udhcpc(client, tmp, mac=MAC)
    assert lease is not None and lease["ntp"] == "192.0.2.123"
    untagged = (DhcpHost(MAC, "10.0.0.5", "vm1", "port-a"), renamed[1])
    assert dm.ensure(spec(qdhcp, hosts=untagged)) == "restarted", "the old file still had tags"
    assert dm.ensure(spec(qdhcp, hosts=(untagged[0], DhcpHost(UNKNOWN_MAC, "10.0.0.6", "db", "port-b")))) == "reloaded"
