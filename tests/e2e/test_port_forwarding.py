"""Port forwarding end to end (issue 17): two instances share one floating IP by port, through the API and
the agent, proven by real traffic from the upstream namespace; hairpin from an instance; deleting one
forwarding stops it and leaves the other; deleting the floating IP stops the rest, and the seed's plain
floating IP next to it keeps working.
"""

from __future__ import annotations

from typing import Any

from tests.e2e.fabric import Fabric, wait_until
from tests.e2e.test_security_show import check_of, diagnose
from tests.e2e.topology import Seed, add_vm, probe


def _who(ns: str, address: str, port: int) -> str | None:
    code, result = probe(ns, "get", address, str(port), "--timeout", "1")
    return str(result.get("server")) if code == 0 else None


def _forward(f: Fabric, fip_id: str, vm: Any, external: int, internal: int = 80) -> dict[str, Any]:
    body = {"port_forwarding": {"internal_port_id": vm.port_id, "internal_ip_address": vm.ip, "protocol": "tcp",
                                "external_port": external, "internal_port": internal}}  # fmt: skip
    return dict(f.api("POST", f"/floatingips/{fip_id}/port_forwardings", json=body)["port_forwarding"])


def test_two_instances_share_one_floating_ip(fabric: Fabric, seed: Seed) -> None:
    f, upstream = fabric, f"{fabric.prefix}upstream"
    fip = f.api("POST", "/floatingips", json={"floatingip": {"floating_network_id": seed.public["id"]}})["floatingip"]
    address = fip["floating_ip_address"]
    vm3 = add_vm(seed, "vm3", seed.private["id"])  # vm1 has a floating IP of its own: no forwarding to it
    to_vm2 = _forward(f, fip["id"], seed.vms["vm2"], 8002)
    _forward(f, fip["id"], vm3, 8003)
    wait_until(lambda: _who(upstream, address, 8002) == "vm2", 20, f"{address}:8002 reaches vm2")
    wait_until(lambda: _who(upstream, address, 8003) == "vm3", 20, f"{address}:8003 reaches vm3")
    assert _who(upstream, address, 8004) is None
    assert _who(seed.vms["vm2"].ns, address, 8003) == "vm3"  # hairpin: an instance reaches the other by the FIP

    f.api("DELETE", f"/floatingips/{fip['id']}/port_forwardings/{to_vm2['id']}")
    wait_until(lambda: _who(upstream, address, 8002) is None, 20, f"{address}:8002 closed")
    assert _who(upstream, address, 8003) == "vm3"
    f.api("DELETE", f"/floatingips/{fip['id']}")
    wait_until(lambda: _who(upstream, address, 8003) is None, 20, f"{address}:8003 closed with its floating IP")
    assert _who(upstream, seed.fips["fip1"]["floating_ip_address"], 80) == "vm1"  # the plain FIP is untouched


def test_diagnose_follows_a_forwarding(fabric: Fabric, seed: Seed) -> None:
    """``floatnet diagnose FIP --protocol tcp --port N`` follows the forwarding that takes port N to its
    instance (API, the router's pf maps, the port's groups and filter) and names a port nobody forwards."""
    f, upstream = fabric, f"{fabric.prefix}upstream"
    fip = f.api("POST", "/floatingips", json={"floatingip": {"floating_network_id": seed.public["id"]}})["floatingip"]
    address = fip["floating_ip_address"]
    pf = _forward(f, fip["id"], seed.vms["vm2"], 8012)
    wait_until(lambda: _who(upstream, address, 8012) == "vm2", 20, f"{address}:8012 reaches vm2")
    doc = diagnose(f, address, "--protocol", "tcp", "--port", "8012")
    failing = [c for c in doc["checks"] if c["status"] == "FAIL"]
    assert not failing, failing
    assert pf["id"] in check_of(doc, "api.associated")["reason"]
    assert "pf_port" in check_of(doc, "nat.dnat")["reason"] and ":80" in check_of(doc, "api.associated")["reason"]
    other = diagnose(f, address, "--protocol", "tcp", "--port", "8019")
    verdict = check_of(other, "api.associated")
    assert verdict["status"] == "FAIL" and "no port forwarding" in verdict["reason"]
    f.api("DELETE", f"/floatingips/{fip['id']}")
