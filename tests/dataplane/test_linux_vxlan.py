"""``floatnet.linux.vxlan`` against the real kernel, checked with ``ip -d link`` and ``bridge fdb``: create (and
replace one with other settings), flood entries added and removed, observation by name (other kinds and missing
names left out, learned entries not counted as peers), delete."""

from __future__ import annotations

import json
from collections.abc import Callable

from floatnet.linux import vxlan
from tests.dataplane.conftest import sh


def _details(ns: str, name: str) -> dict[str, object]:
    [link] = json.loads(sh(["ip", "-j", "-d", "link", "show", name], ns))
    return dict(link["linkinfo"]["info_data"], mtu=link["mtu"], up="UP" in link["flags"])


def _floods(ns: str, name: str) -> set[str]:
    entries = json.loads(sh(["bridge", "-j", "fdb", "show", "dev", name], ns))
    return {e["dst"] for e in entries if e["mac"] == "00:00:00:00:00:00"}


def test_create_edit_observe_delete(make_ns: Callable[[str], str]) -> None:
    ns = make_ns("vx")
    vxlan.create(ns, 4242, "10.250.9.1", 1450)
    details = _details(ns, "vxlan-4242")
    assert (details["id"], details["local"], details["port"], details["learning"]) == (4242, "10.250.9.1", 4789, False)
    assert details["mtu"] == 1450 and details["up"] is True
    vxlan.edit_peers(ns, 4242, add={"10.250.9.2", "10.250.9.3"})
    vxlan.edit_peers(ns, 4242, add={"10.250.9.3"}, remove={"10.250.9.2", "10.250.9.9"})  # idempotent both ways
    assert _floods(ns, "vxlan-4242") == {"10.250.9.3"}
    sh(["bridge", "fdb", "append", "fa:16:3e:00:00:01", "dev", "vxlan-4242", "dst", "10.250.9.4"], ns)
    sh(["ip", "link", "add", "vxlan-7", "type", "veth", "peer", "name", "vxlan-7p"], ns)  # the name, not the kind
    found = vxlan.observe(ns, ["vxlan-4242", "vxlan-7", "vxlan-8"])
    assert list(found) == ["vxlan-4242"]
    assert found["vxlan-4242"] == vxlan.VxlanDevice("vxlan-4242", 4242, "10.250.9.1", 4789, False, 1450, True,
                                                    frozenset({"10.250.9.3"}))  # fmt: skip
    vxlan.create(ns, 4242, "10.250.9.5", None)  # other settings: replaced, flood entries gone with it
    assert _details(ns, "vxlan-4242")["local"] == "10.250.9.5" and _floods(ns, "vxlan-4242") == set()
    vxlan.delete(ns, "vxlan-4242")
    vxlan.delete(ns, "vxlan-4242")
    assert vxlan.observe(ns, ["vxlan-4242"]) == {}
