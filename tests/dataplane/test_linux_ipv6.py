"""IPv6 in floatnet's namespaces against the real kernel: addresses usable at once (no DAD), gatewayed IPv6
routes observed and edited like IPv4 ones, forwarding of both families, router advertisements ignored."""

from __future__ import annotations

import json

from floatnet.linux import links
from tests.dataplane.conftest import dev_name, sh


def ip_json(ns: str | None, *args: str) -> list[dict]:
    return json.loads(sh(["ip", "-j", *args], netns=ns) or "[]")


def test_ipv6_addresses_and_routes(make_ns):
    ns = make_ns("v6")
    outer = dev_name("o6")
    try:
        links.static_ipv6(ns)
        links.ensure_veth(outer, "ignored", ns, mac="fa:16:3e:00:00:06", peer_name="qg-6")
        links.sync_addresses(ns, "qg-6", {"10.1.0.5/24", "2001:db8:ff::10/64"})
        assert links.get_addresses(ns, "qg-6") == {"10.1.0.5/24", "2001:db8:ff::10/64"}  # link-local left out
        info = ip_json(ns, "-6", "addr", "show", "qg-6")[0]["addr_info"]
        mine = next(a for a in info if a["local"] == "2001:db8:ff::10")
        assert not mine.get("tentative")  # usable at once: the router's default route needs it
        assert sh(["sysctl", "-n", "net.ipv6.conf.qg-6.accept_ra"], netns=ns).strip() == "0"

        links.edit_routes(ns, add=[("0.0.0.0/0", "10.1.0.1"), ("::/0", "2001:db8:ff::1"),
                                   ("2001:db8:77::/48", "2001:db8:ff::9")])  # fmt: skip
        assert links.get_routes(ns) == {
            "0.0.0.0/0": "10.1.0.1", "::/0": "2001:db8:ff::1", "2001:db8:77::/48": "2001:db8:ff::9",
        }  # fmt: skip
        routes = {(r["dst"], r.get("gateway")) for r in ip_json(ns, "-6", "route")}
        assert ("default", "2001:db8:ff::1") in routes
        links.edit_routes(ns, remove=[("::/0", "2001:db8:ff::1")])
        assert links.get_routes(ns) == {"0.0.0.0/0": "10.1.0.1", "2001:db8:77::/48": "2001:db8:ff::9"}
    finally:
        links.delete_link(outer)


def test_router_forwarding_covers_ipv6(make_ns):
    ns = make_ns("fwd6")
    assert not links.get_forwarding(ns)
    links.set_forwarding(ns, True)
    assert sh(["sysctl", "-n", "net.ipv6.conf.all.forwarding"], netns=ns).strip() == "1"
    assert links.get_forwarding(ns)
    sh(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=0"], netns=ns)
    assert not links.get_forwarding(ns)  # one family off: the planner turns it on again
