"""floatnet.linux.ovs_daemon and .ovs against a real (private, netdev) Open vSwitch, checked with ovs-vsctl,
ping and tcpdump."""

from __future__ import annotations

import subprocess
import time

from floatnet.linux import links
from floatnet.linux.ovs_daemon import OvsDaemons
from tests.dataplane.conftest import dev_name, sh


def plug(ovs, make_ns, tag: str, bridge: str, vlan: int | None, addr: str | None) -> str:
    """A namespace 'instance' whose veth's OVS end is a port of ``bridge`` (what a hypervisor does)."""
    ns = make_ns(tag)
    port = dev_name(tag)
    links.ensure_veth(port, "x", ns, peer_name="eth0", netns=ovs.netns)
    links.tx_offload_off(port, ovs.netns)
    ovs.api.ensure_port(bridge, port, tag=vlan, iface_id=f"iface-{tag}")
    if addr:
        links.add_address(ns, "eth0", addr)
    return ns


def test_daemons_adopt_and_bridge_ports(ovs, make_ns):
    assert ovs.daemons.running()
    again = OvsDaemons(ovs.daemons.rundir, netns=ovs.netns)
    pids = (again.pid("ovsdb-server"), again.pid("ovs-vswitchd"))
    again.start()  # adopts: no new processes
    assert (again.pid("ovsdb-server"), again.pid("ovs-vswitchd")) == pids

    br = dev_name("br1")
    ovs.api.ensure_bridge(br, "netdev")
    ovs.api.ensure_bridge(br, "netdev")
    assert ovs.vsctl("get", "Bridge", br, "datapath_type").strip() == "netdev"
    plug(ovs, make_ns, "p1", br, 100, None)
    port = dev_name("p1")
    assert ovs.vsctl("get", "Port", port, "tag").strip() == "100"
    assert ovs.vsctl("get", "Interface", port, "external_ids:iface-id").strip().strip('"') == "iface-p1"
    assert ovs.api.ports_by_iface_id()["iface-p1"].tag == 100
    assert ovs.api.bridge_ports(br) == [port]
    ovs.api.set_tag(port, None)
    assert ovs.vsctl("get", "Port", port, "tag").strip() == "[]"
    assert ovs.api.port_tags()[port] is None
    ovs.api.delete_port(br, port)
    assert port not in ovs.vsctl("list-ports", br).split()
    ovs.api.delete_bridge(br)
    assert br not in ovs.vsctl("list-br").split()


def test_vlan_isolation_and_tags_on_the_wire(ovs, make_ns):
    br = dev_name("br2")
    ovs.api.ensure_bridge(br, "netdev")
    a = plug(ovs, make_ns, "va", br, 100, "10.7.0.1/24")
    b = plug(ovs, make_ns, "vb", br, 100, "10.7.0.2/24")
    c = plug(ovs, make_ns, "vc", br, 200, "10.7.0.3/24")
    trunk = plug(ovs, make_ns, "tr", br, None, None)
    argv = ["tcpdump", "-l", "-nn", "-e", "-c", "1", "-i", "eth0", "vlan 100 and arp"]
    cap = subprocess.Popen(
        ["ip", "netns", "exec", trunk, *argv], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        time.sleep(0.5)
        sh(["ping", "-c", "2", "-W", "2", "10.7.0.2"], netns=a)
        assert (
            subprocess.run(
                ["ip", "netns", "exec", c, "ping", "-c", "2", "-W", "1", "10.7.0.1"], capture_output=True
            ).returncode
            != 0
        )
        out, _ = cap.communicate(timeout=10)
    finally:
        cap.kill()
    assert "vlan 100" in out and "10.7.0.2" in out
    assert b
