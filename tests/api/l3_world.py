"""A small L3 world for API tests: an external flat network with a floating pool and an internal VLAN network.

Works with any client that has ``get/post/put/delete`` taking a path and ``json=`` (Starlette's TestClient, or
an ``httpx.Client`` with ``base_url``), so in-process and live-server tests share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

POOL_START, POOL_END = "203.0.113.100", "203.0.113.119"


def ok(response: Any, status: int = 200) -> Any:
    """The JSON body of a response that must have ``status`` (the body is shown when it has not)."""
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def error(response: Any, status: int, kind: str) -> dict[str, Any]:
    """The NeutronError of a response that must fail with ``status`` and type ``kind``."""
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()["NeutronError"]
    assert body["type"] == kind, body
    return body


@dataclass
class World:
    client: Any
    ext_net: str
    ext_subnet: str
    net: str
    subnet: str

    def network(self, name: str, cidr: str, **subnet: Any) -> tuple[str, str]:
        """Another internal network with one subnet; returns (network id, subnet id)."""
        net = ok(self.client.post("/v2.0/networks", json={"network": {"name": name}}), 201)["network"]
        body = {"network_id": net["id"], "cidr": cidr, "ip_version": 4, **subnet}
        sub = ok(self.client.post("/v2.0/subnets", json={"subnet": body}), 201)["subnet"]
        return net["id"], sub["id"]

    def router(self, name: str = "router1", gateway: bool = True, interface: bool = True) -> str:
        router = ok(self.client.post("/v2.0/routers", json={"router": {"name": name}}), 201)["router"]
        if interface:
            self.add_interface(router["id"], subnet_id=self.subnet)
        if gateway:
            self.set_gateway(router["id"], self.ext_net)
        return str(router["id"])

    def add_interface(self, router_id: str, **body: str) -> dict[str, Any]:
        return dict(ok(self.client.put(f"/v2.0/routers/{router_id}/add_router_interface", json=body)))

    def set_gateway(self, router_id: str, network_id: str | None, **extra: Any) -> dict[str, Any]:
        info = {"network_id": network_id, **extra} if network_id else None
        body = {"router": {"external_gateway_info": info}}
        return dict(ok(self.client.put(f"/v2.0/routers/{router_id}", json=body))["router"])

    def port(self, network_id: str | None = None, **extra: Any) -> dict[str, Any]:
        body = {"network_id": network_id or self.net, **extra}
        return dict(ok(self.client.post("/v2.0/ports", json={"port": body}), 201)["port"])

    def fip(self, **body: Any) -> dict[str, Any]:
        body = {"floating_network_id": self.ext_net, **body}
        return dict(ok(self.client.post("/v2.0/floatingips", json={"floatingip": body}), 201)["floatingip"])

    def associate(self, fip_id: str, port_id: str | None, **extra: Any) -> Any:
        return self.client.put(f"/v2.0/floatingips/{fip_id}", json={"floatingip": {"port_id": port_id, **extra}})


def build(client: Any, pool: tuple[str, str] = (POOL_START, POOL_END)) -> World:
    """Create the external network (``203.0.113.0/24``, pool ``pool``) and ``vlan_100`` (``10.0.0.0/24``)."""
    ext = {
        "name": "public",
        "router:external": True,
        "provider:network_type": "flat",
        "provider:physical_network": "public_eth0",
    }
    ext_net = ok(client.post("/v2.0/networks", json={"network": ext}), 201)["network"]["id"]
    ext_sub = {
        "network_id": ext_net,
        "cidr": "203.0.113.0/24",
        "ip_version": 4,
        "enable_dhcp": False,
        "gateway_ip": "203.0.113.1",
        "allocation_pools": [{"start": pool[0], "end": pool[1]}],
    }
    ext_subnet = ok(client.post("/v2.0/subnets", json={"subnet": ext_sub}), 201)["subnet"]["id"]
    world = World(client, ext_net, ext_subnet, "", "")
    world.net, world.subnet = world.network("vlan_100", "10.0.0.0/24")
    return world
