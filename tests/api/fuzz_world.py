"""The world the hostile-input sweep (tests/api/test_fuzz_inputs.py) runs in, and its invariants.

An admin owns an external network, a shared network and a private VLAN network; project ``pa`` owns a
network, subnet, port, router (gateway + interface) and a floating IP. Callers: ``admin``, ``member`` and
``reader`` of ``pa``, and ``foreign`` (a member of another project). :meth:`World.send` sends one request and
checks the invariants: never a 5xx, every error a NeutronError body, a request the caller's policy forbids
refused, and the database unchanged after every refused request.

"Unchanged" is checked exactly and cheaply: an observer connection reads SQLite's ``PRAGMA data_version``,
which moves whenever another connection commits a change, before and after each request; batches of
requests that must all be refused are also compared against a full dump of every row of every table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from floatnet.db.models import Base
from tests.api.helpers import create, project

PA = "pa"
ROLES: dict[str, dict[str, str]] = {
    "admin": {},
    "member": project(PA),
    "reader": {"X-Project-Id": PA, "X-Roles": "reader"},
    "foreign": project("pb"),
}
JSON = {"Content-Type": "application/json"}  # every request is a well-formed API call, only its values are hostile


@dataclass
class World:
    """The resources of the sweep (ids by name), the problems found, and the database observer."""

    client: Any
    ids: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    observer: sqlite3.Connection | None = None

    def build(self) -> World:
        """Create the resources (as admin, and as ``pa``'s member) and open the observer."""
        client, member, ids = self.client, ROLES["member"], self.ids
        ids["ext_net"] = create(client, "network", None, name="ext", **{"router:external": True})["id"]
        ids["ext_subnet"] = create(client, "subnet", None, network_id=ids["ext_net"], cidr="172.30.0.0/24",
                                   ip_version=4)["id"]  # fmt: skip
        ids["shared_net"] = create(client, "network", None, name="shared", shared=True)["id"]
        ids["shared_subnet"] = create(client, "subnet", None, network_id=ids["shared_net"], cidr="10.123.0.0/24",
                                      ip_version=4)["id"]  # fmt: skip
        vlan: dict[str, Any] = {"provider:network_type": "vlan", "provider:physical_network": "public_eth1"}
        ids["vlan_net"] = create(client, "network", None, name="vlan", **vlan, **{"provider:segmentation_id": 102})[
            "id"
        ]
        ids["network"] = create(client, "network", member, name="pa-net")["id"]
        ids["subnet"] = create(client, "subnet", member, network_id=ids["network"], cidr="10.0.0.0/24",
                               ip_version=4)["id"]  # fmt: skip
        ids["port"] = create(client, "port", member, network_id=ids["network"], name="pa-port")["id"]
        gateway = {"network_id": ids["ext_net"]}
        ids["router"] = create(client, "router", member, name="pa-router", external_gateway_info=gateway)["id"]
        attach = client.put(f"/v2.0/routers/{ids['router']}/add_router_interface", json={"subnet_id": ids["subnet"]},
                            headers=member)  # fmt: skip
        assert attach.status_code == 200, attach.text
        ids["floatingip"] = create(client, "floatingip", member, floating_network_id=ids["ext_net"],
                                   port_id=ids["port"])["id"]  # fmt: skip
        self._security_groups()
        report = client.post("/v2.0/floatnet/agents", json={"agent": {"host": "h1", "agent_type": "L3 agent"}})
        assert report.status_code in (200, 201), report.text
        ids["agent"] = report.json()["agent"]["id"]
        self.observer = sqlite3.connect(self.client.app.state.core.db.engine.url.database, isolation_level=None)
        return self

    def _security_groups(self) -> None:
        """A group and a rule of ``pa``; every caller's default group made now, so that a later refused
        request is not the first need that creates it."""
        member, ids = ROLES["member"], self.ids
        for headers in (ROLES["admin"], member, ROLES["foreign"]):
            assert self.client.get("/v2.0/security-groups", headers=headers).status_code == 200
        group = self.client.post("/v2.0/security-groups", json={"security_group": {"name": "pa-sg"}}, headers=member)
        ids["security_group"] = group.json()["security_group"]["id"]
        body = {"security_group_id": ids["security_group"], "direction": "ingress", "protocol": "tcp"}
        rule = self.client.post("/v2.0/security-group-rules", json={"security_group_rule": body}, headers=member)
        ids["security_group_rule"] = rule.json()["security_group_rule"]["id"]

    def close(self) -> None:
        """Close the observer connection."""
        if self.observer is not None:
            self.observer.close()

    def data_version(self) -> int:
        """SQLite's counter of changes committed by other connections (the app's)."""
        assert self.observer is not None
        return int(self.observer.execute("PRAGMA data_version").fetchone()[0])

    def dump(self) -> list[Any]:
        """Every row of every table, in a stable order."""
        engine = self.client.app.state.core.db.engine
        with engine.connect() as conn:
            return [
                (table.name, sorted(map(repr, conn.execute(select(table)).all())))
                for table in Base.metadata.sorted_tables
            ]

    def send(self, role: str, method: str, path: str, body: Any = None, forbidden: bool = False) -> Any:
        """One request as ``role``; records every broken invariant in :attr:`problems` (see the module)."""
        kwargs: dict[str, Any] = {"headers": {**JSON, **ROLES[role]}}
        if body is not None:
            kwargs["json"] = body
        before = self.data_version()
        response = self.client.request(method, path, **kwargs)
        where = f"{role} {method} {path} {str(body)[:120]} -> {response.status_code}"
        if response.status_code >= 500:
            self.problems.append(f"5xx: {where} {response.text[:200]}")
        if response.status_code >= 400 and not _is_neutron_error(response):
            self.problems.append(f"not a NeutronError body: {where} {response.text[:200]}")
        if forbidden and response.status_code < 400:
            self.problems.append(f"forbidden request accepted: {where}")
        if response.status_code >= 400 and self.data_version() != before:
            self.problems.append(f"database changed by a refused request: {where}")
        return response

    def refused_batch(self, requests: Callable[[], None]) -> None:
        """Run ``requests`` (all of which must be refused) and compare full dumps before and after."""
        before = self.dump()
        requests()
        if self.dump() != before:
            self.problems.append(f"database changed by a batch of refused requests ({requests.__name__})")


def _is_neutron_error(response: Any) -> bool:
    try:
        error = response.json()["NeutronError"]
    except (ValueError, KeyError, TypeError):
        return False
    return isinstance(error, dict) and set(error) == {"type", "message", "detail"}
