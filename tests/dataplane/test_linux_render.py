"""Pure rendering logic of floatnet.linux (names, NAT table description, dnsmasq files and command line)."""

from __future__ import annotations

import pytest

from floatnet.linux import names, nat
from floatnet.linux.dnsmasq import DhcpHost, DhcpSpec, DhcpSubnet, Dnsmasq, hostname_label, render_files
from floatnet.linux.errors import KernelError

PORT = "0123456789abcdef-0123-4567-89ab-cdef01234567"


def test_names_fit_ifnamsiz_and_round_trip():
    for dev in (names.qr_dev(PORT), names.qg_dev(PORT), names.tap_dev(PORT)):
        assert len(dev) <= names.IFNAME_MAX
    assert names.qr_dev(PORT) == "qr-0123456789a" and names.tap_dev(PORT) == "tap0123456789a"
    assert names.router_id_of(names.router_ns("r1")) == "r1" and names.router_id_of("qdhcp-x") is None
    assert names.network_id_of(names.dhcp_ns("n1")) == "n1"


def test_router_nat_normalisation():
    a = nat.RouterNat("203.0.113.100", "qg-x", True, ["10.0.0.1/24", "10.0.0.0/25", "10.1.0.9/24"], {})
    assert a.internal_cidrs == ("10.0.0.0/24", "10.1.0.0/24")
    no_gw = nat.RouterNat(None, "qg-x", True, ["10.0.0.1/24"], {"203.0.113.5": "10.0.0.5"})
    assert (no_gw.gateway_ip, no_gw.gateway_dev, no_gw.enable_snat) == (None, None, False)
    assert no_gw.roles()["postrouting"] == ["floatnet:hairpin-fip", "floatnet:hairpin"]
    assert a.roles()["postrouting"][0] == "floatnet:fip-snat gw=203.0.113.100"
    with pytest.raises(KernelError):
        nat.RouterNat(
            "203.0.113.100", "qg-x", True, [], {"203.0.113.5": "10.0.0.5", "203.0.113.6": "10.0.0.5"}
        )
    with pytest.raises(KernelError):
        nat.RouterNat("203.0.113.100", "qg-x", True, [], {"not-an-ip": "10.0.0.5"})


def test_render_never_uses_the_exact_ct_status_compare():
    cmds = nat.render(
        nat.RouterNat("203.0.113.100", "qg-x", True, ["10.0.0.0/24"], {"203.0.113.5": "10.0.0.5"})
    )
    ct_matches = [
        e["match"]
        for c in cmds
        if "rule" in c.get("add", {})
        for e in c["add"]["rule"]["expr"]
        if "match" in e
    ]
    ct_matches = [m for m in ct_matches if "&" in m["left"]]
    assert ct_matches and all(m["op"] == "==" and m["right"] in ("dnat", 0) for m in ct_matches)
    assert cmds[1] == {"delete": {"table": {"family": "ip", "name": "floatnet"}}}  # one atomic re-create


def spec(**kw) -> DhcpSpec:
    base = dict(
        network_id="n1", netns="qdhcp-n1", interface="tap0123456789a",
        subnets=(DhcpSubnet("s1", "10.0.0.0/24", "10.0.0.1", (), (("192.0.2.0/24", "10.0.0.254"),)),
                 DhcpSubnet("s2", "10.9.0.0/24", None, ("9.9.9.9",))),
        hosts=(DhcpHost("FA:16:3E:00:00:01", "10.0.0.5", "My_VM.1"),
               DhcpHost("fa:16:3e:00:00:02", "10.9.0.5", "")),
        dns_servers=("10.0.0.2", "10.9.0.2"), upstream_dns=("198.51.100.53",), domain="fn.test", mtu=1450,
    )  # fmt: skip
    base.update(kw)
    return DhcpSpec(**base)  # type: ignore[arg-type]


def test_dnsmasq_files():
    files = render_files(spec())
    assert files["host"] == "fa:16:3e:00:00:01,10.0.0.5,my-vm-1\nfa:16:3e:00:00:02,10.9.0.5,host-10-9-0-5\n"
    assert "10.0.0.5\tmy-vm-1.fn.test my-vm-1\n" in files["addn_hosts"]
    opts = files["opts"].splitlines()
    assert "tag:subnet-s1,option:router,10.0.0.1" in opts
    assert "tag:subnet-s1,option:dns-server,10.0.0.2" in opts  # the DHCP port's address in that subnet
    assert "tag:subnet-s1,option:classless-static-route,192.0.2.0/24,10.0.0.254,0.0.0.0/0,10.0.0.1" in opts
    assert "tag:subnet-s2,option:router" in opts and "tag:subnet-s2,option:dns-server,9.9.9.9" in opts
    assert files["servers"] == "server=198.51.100.53\n"
    assert hostname_label("---", "10.0.0.7") == "host-10-0-0-7"


def test_dnsmasq_command_line(tmp_path):
    argv = Dnsmasq(tmp_path).argv(spec())
    assert "--conf-file=/dev/null" in argv and "--interface=tap0123456789a" in argv
    assert "--dhcp-range=set:subnet-s1,10.0.0.0,static,255.255.255.0,86400s" in argv
    assert "--dhcp-option-force=option:mtu,1450" in argv and "--local=/fn.test/" in argv
    assert Dnsmasq(tmp_path).argv(spec(hosts=(), upstream_dns=())) == argv  # SIGHUP-able changes only
    with pytest.raises(KernelError):
        Dnsmasq(tmp_path).argv(spec(network_id="../etc"))


def test_port_option_lines_as_neutrons_driver_writes_them():
    from floatnet.linux.dnsmasq import format_option

    assert format_option(4, "port-p", "bootfile-name", "pxelinux.0") == "tag:port-p,option:bootfile-name,pxelinux.0"
    assert format_option(4, "port-p", "150", "192.0.2.9") == "tag:port-p,150,192.0.2.9"
    assert format_option(6, "port-p", "bootfile-url", "tftp://[2001:db8::1]/x") == (
        "tag:port-p,option6:bootfile-url,tftp://[2001:db8::1]/x"
    )
    assert format_option(4, "port-p", "tag:ipxe,bootfile-name", "boot.ipxe") == (
        "tag:port-p,tag:ipxe,option:bootfile-name,boot.ipxe"
    )
    assert format_option(4, "port-p", "router", "") == "tag:port-p,option:router,"
    assert format_option(4, "port-p", "router", "10.0.0.9\ndhcp-range=evil") == "tag:port-p,option:router,10.0.0.9"
    hosts = (DhcpHost("fa:16:3e:00:00:01", "10.0.0.5", "vm", "p", (("client-id", "x", 4), ("61", "y", 4))),)
    files = render_files(spec(hosts=hosts))
    assert files["host"] == "fa:16:3e:00:00:01,10.0.0.5,vm,set:port-p\n" and "port-p" not in files["opts"]
