"""VXLAN on the agent (agent/plan_tunnels.py), pure and through the loop over the in-memory kernel: local tags
kept from the kernel and never shared, a device per network with its flood entries, minimal edits, the sweep
only with a complete state, a missing ``local_ip`` reported, a deleted device repaired."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from floatnet.agent import actions as A
from floatnet.agent.desired import DEAD_VLAN, Wiring
from floatnet.agent.dirty import Dirty
from floatnet.agent.loop import Agent
from floatnet.agent.plan import plan
from floatnet.agent.plan_common import PlanContext
from floatnet.agent.plan_tunnels import local_tags, localize, plan_tunnels
from floatnet.agent.state import Observed, OvsPort, Tunnel
from tests.unit.agent_fakes import FakeKernel, FakeServer
from tests.unit.test_agent_plan import network_doc, port_doc, router_doc, state

VX1, VX2 = "11111111-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "22222222-aaaa-4aaa-8aaa-aaaaaaaaaaaa"
LOCAL = "10.250.0.1"
WIRING = {"bridge": "br-int", "network_type": "vxlan"}


def vx_network(net_id: str = VX1, vni: int = 5001, peers: tuple[str, ...] = ("10.250.0.2",)) -> dict[str, Any]:
    doc = network_doc()
    doc.update(id=net_id, name="vx", mtu=1450, segmentation_id=vni, tunnel_peers=list(peers), **WIRING)
    doc["physical_network"] = None
    doc["dhcp"]["port"]["id"] = f"dhcp-{net_id}"
    return doc


def vx_port(net_id: str = VX1, vni: int = 5001) -> dict[str, Any]:
    return {**port_doc(), "network_id": net_id, "segmentation_id": vni, **WIRING}


def tunnel(vni: int, peers: frozenset[str] = frozenset({"10.250.0.2"})) -> Tunnel:
    return Tunnel(f"vxlan-{vni}", vni, LOCAL, 4789, False, 1450, True, peers)


def test_wiring_tag_is_the_local_tag_or_the_dead_vlan() -> None:
    assert Wiring("br-int", "vxlan", 5001).tag == DEAD_VLAN  # unknown yet: never untagged on the shared bridge
    assert Wiring("br-int", "vxlan", 5001, local_tag=3).tag == 3
    assert Wiring("br-eth1", "vlan", 100).tag == 100 and Wiring("br-ex", "flat", None).tag is None
    assert Wiring("br-int", "local", None).tag == DEAD_VLAN  # not carried by floatnet: isolated, never untagged


def test_local_tags_are_read_back_and_new_ones_never_shared() -> None:
    desired = state(networks=[vx_network(VX1, 5001), vx_network(VX2, 5002)])
    observed = Observed(ovs_ports={
        "vxlan-5002": OvsPort("vxlan-5002", "br-int", 1, None, 7),  # kept across restarts: the kernel's
        "qvoother": OvsPort("qvoother", "br-int", 2, "x", 8),  # some port of br-int holds 2 already
    })  # fmt: skip
    assert local_tags(desired, observed) == {5002: 1, 5001: 3}
    clash = Observed(ovs_ports={n: OvsPort(n, "br-int", 1, None, 7) for n in ("vxlan-5001", "vxlan-5002")})
    assert local_tags(desired, clash) == {5001: 1, 5002: 2}  # two devices claiming one tag: one moves


def test_without_its_device_a_network_keeps_the_tag_its_devices_carry() -> None:
    desired = state(networks=[vx_network(VX1, 5001)], ports=[vx_port(VX1, 5001)])
    observed = Observed(ovs_ports={
        "tapdhcp": OvsPort("tapdhcp", "br-int", 3, f"dhcp-{VX1}", 4),  # plugged, but the vxlan device is missing
        "qvovm": OvsPort("qvovm", "br-int", 3, "vm-port", 5),
        "qvovlan": OvsPort("qvovlan", "br-eth1", 1, "other", 6),
    })  # fmt: skip
    assert local_tags(desired, observed) == {5001: 3}  # not the free 1: a failing create must not move it


def test_a_node_without_local_ip_does_not_flap_tags() -> None:
    server, kernel = FakeServer([], [vx_network()]), FakeKernel()
    server.ports["vm-port"] = vx_port()
    loop = Agent(lambda: server, kernel, PlanContext(), 60.0, {})  # type: ignore[arg-type,return-value]
    loop.reconcile(Dirty(everything=True))
    kernel.ovs["qvovm"] = OvsPort("qvovm", "br-int", DEAD_VLAN, "vm-port", 5)
    for _ in range(3):
        loop.step()
    tags = {p.tag for p in kernel.ovs.values()}
    before = len(kernel.applied)
    loop.reconcile(Dirty(ovs=True))
    assert len(kernel.applied) == before and len(tags) == 1 and "vxlan-5001" not in kernel.tunnels
    assert "local_ip" in loop.errors[("network", VX1)]


def test_localize_tags_every_device_of_the_network() -> None:
    router = router_doc()
    router["interfaces"][0].update(network_id=VX1, segmentation_id=5001, **WIRING)
    desired = localize(state([router], [vx_network()], [vx_port()]), {5001: 4})
    assert desired.networks[VX1].wiring.tag == 4 and desired.ports["vm-port"].wiring.tag == 4
    only = next(iter(desired.routers.values()))
    assert only.interfaces[0].wiring.tag == 4 and only.gateway is not None and only.gateway.wiring.tag is None


def test_device_created_then_nothing_then_minimal_edits() -> None:
    desired = localize(state(networks=[vx_network()]), {5001: 1})
    [create] = plan_tunnels(desired, Observed(), LOCAL)
    assert create == A.CreateVxlan(group="ovs:vxlan-5001", refs=(("network", VX1),), vni=5001, local=LOCAL, mtu=1450,
                                   bridge="br-int", tag=1, peers=frozenset({"10.250.0.2"}))  # fmt: skip
    port = OvsPort("vxlan-5001", "br-int", 1, None, 9)
    built = Observed(ovs_ports={port.name: port}, tunnels={port.name: tunnel(5001)})
    assert plan_tunnels(desired, built, LOCAL) == []
    moved = localize(state(networks=[vx_network(peers=("10.250.0.3",))]), {5001: 2})
    assert plan_tunnels(moved, built, LOCAL) == [
        A.SetTag(group="ovs:vxlan-5001", refs=(("network", VX1),), port="vxlan-5001", tag=2),
        A.EditVxlanPeers(group="ovs:vxlan-5001", refs=(("network", VX1),), vni=5001,
                         add=frozenset({"10.250.0.3"}), remove=frozenset({"10.250.0.2"})),
    ]  # fmt: skip
    for broken in ({"learning": True}, {"up": False}, {"local": "10.9.9.9"}, {"mtu": 1500}):
        wrong = replace(built, tunnels={port.name: replace(tunnel(5001), **broken)})
        assert [type(a) for a in plan_tunnels(desired, wrong, LOCAL)] == [A.CreateVxlan], broken
    detached = replace(built, ovs_ports={port.name: replace(port, ofport=-1)})
    assert [type(a) for a in plan_tunnels(desired, detached, LOCAL)] == [A.CreateVxlan]


def test_stale_devices_go_only_with_a_complete_state() -> None:
    port = OvsPort("vxlan-7", "br-int", 5, None, 9)
    leftover = Observed(ovs_ports={port.name: port}, tunnels={port.name: tunnel(7)})
    assert plan_tunnels(state(complete=False), leftover, LOCAL) == []
    assert plan_tunnels(state(), leftover, LOCAL) == [A.DeleteVxlan(group="ovs:vxlan-7", dev="vxlan-7")]


def test_no_local_ip_is_reported_and_the_rest_planned() -> None:
    poisoned: dict[Any, str] = {}
    actions = plan(localize(state(networks=[vx_network()]), {5001: 1}), Observed(), PlanContext(), poisoned)
    assert "local_ip" in poisoned[("network", VX1)]
    assert not [a for a in actions if isinstance(a, A.CreateVxlan)]
    assert [a for a in actions if isinstance(a, A.PlugDevice) and a.tag == 1], "DHCP still plugged, tagged"


def _agent(server: FakeServer, kernel: FakeKernel) -> Agent:
    return Agent(lambda: server, kernel, PlanContext(local_ip=LOCAL), 60.0, {})  # type: ignore[arg-type,return-value]


def test_loop_builds_tags_the_instance_and_repairs_a_deleted_device() -> None:
    server, kernel = FakeServer([], [vx_network()]), FakeKernel()
    server.ports["vm-port"] = vx_port()
    loop = _agent(server, kernel)
    loop.reconcile(Dirty(everything=True))
    assert kernel.tunnels["vxlan-5001"].peers == {"10.250.0.2"} and kernel.ovs["vxlan-5001"].tag == 1
    kernel.ovs["qvovm"] = OvsPort("qvovm", "br-int", DEAD_VLAN, "vm-port", 5)  # the hypervisor plugs the VM
    loop.step()
    assert kernel.ovs["qvovm"].tag == 1 and server.statuses["ports"]["vm-port"] == "ACTIVE"
    del kernel.tunnels["vxlan-5001"]  # someone deletes the device: OVS sees its link go down
    kernel.ovs["vxlan-5001"] = replace(kernel.ovs["vxlan-5001"], link_state="down")
    loop.step()
    assert "vxlan-5001" in kernel.tunnels and kernel.ovs["vxlan-5001"].tag == 1
    restarted = _agent(server, kernel)  # a restart keeps every tag: nothing to do
    before = len(kernel.applied)
    restarted.reconcile(Dirty(everything=True))
    assert len(kernel.applied) == before
