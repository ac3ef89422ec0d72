"""The API-side hops: is the floating IP wired in the server's state, and is an agent alive to apply it?

Each check is a function ``(Facts) -> Result`` (see :mod:`floatnet.diagnose.result`); the ``fix`` lines use
the seed's verbs (``floatnet floatingip-associate …``) so an operator can paste them.
"""

from __future__ import annotations

from typing import Any

from floatnet.diagnose.facts import L3_AGENT, OVS_AGENT, Facts, PortFacts, ip_in
from floatnet.diagnose.result import CheckFailed, Result, failed, passed


def floatingip(f: Facts) -> Result:
    """The floating IP exists (by address or id)."""
    if f.fip is None:
        return failed(
            f"no floating IP {f.ref!r}",
            "check the address or id; create one with `floatnet floatingip-create EXTERNAL_NETWORK`",
            "floatnet floatingip-list",
        )
    fip = f.fip
    return passed(
        f"{fip['floating_ip_address']} (id {fip['id']}) on network {fip['floating_network_id']}, "
        f"status {fip.get('status', '?')}",
        f"floatnet floatingip-show {fip['id']}",
    )


def associated(f: Facts) -> Result:
    """The floating IP is associated to a port and a fixed address — or, for ``--protocol tcp|udp --port N``
    on a floating IP shared by port forwarding, one of its forwardings takes that traffic."""
    assert f.fip is not None
    if f.fip.get("port_forwardings") and not f.fip.get("port_id"):
        return _forwarded(f)
    if not f.fip.get("port_id") or not f.fip.get("fixed_ip_address"):
        return failed(
            f"{f.fip_address} is not associated to any port",
            f"associate it: `floatnet floatingip-associate {f.fip['id']} PORT_ID` "
            "(find the instance's port with `floatnet port-list`)",
            f"floatnet floatingip-show {f.fip['id']}",
        )
    return passed(
        f"associated to port {f.fip['port_id']} fixed IP {f.fixed_ip}",
        f"floatnet floatingip-show {f.fip['id']}",
    )


def _forwarded(f: Facts) -> Result:
    """The forwarding that takes the checked traffic (see :func:`associated`)."""
    assert f.fip is not None
    shown = f"floatnet floatingip-port-forwarding-list {f.fip_address}"
    pf, q = f.forwarding, f.query
    if pf is not None:
        return passed(f"port forwarding {pf.id}: {pf.protocol} {f.fip_address}:{pf.external_port} -> "
                      f"{pf.internal_ip}:{pf.internal_port} (port {pf.port_id})", shown)  # fmt: skip
    if q is None or q.port is None or q.protocol not in ("tcp", "udp"):
        return failed(f"{f.fip_address} is shared by port forwarding: say which traffic to follow",
                      f"`floatnet diagnose {f.fip_address} --protocol tcp --port EXTERNAL_PORT`", shown)  # fmt: skip
    return failed(
        f"no port forwarding of {f.fip_address} takes {q.protocol}/{q.port}",
        f"`floatnet floatingip-port-forwarding-create {f.fip_address} --port PORT --internal-ip-address IP "
        f"--protocol {q.protocol} --internal-protocol-port PORT --external-protocol-port {q.port}`",
        shown,
    )


def port(f: Facts) -> Result:
    """The associated (or forwarded-to) port exists, is up, and holds the fixed address."""
    assert f.fip is not None
    shown = f"floatnet port-show {f.port_id}"
    if f.port is None:
        return failed(f"port {f.port_id} no longer exists", "associate the floating IP to a live port", shown)
    ips = [fixed.get("ip_address") for fixed in f.port.get("fixed_ips", [])]
    if f.fixed_ip not in ips:
        return failed(
            f"port {f.port['id']} does not hold {f.fixed_ip} (it has {ips})",
            "re-associate the floating IP with the port's current address",
            shown,
        )
    if not f.port.get("admin_state_up", True):
        return failed(
            f"port {f.port['id']} is administratively down",
            f"`floatnet port-update {f.port['id']} --admin-state-up True`",
            shown,
        )
    return passed(
        f"port {f.port['id']} ({f.port.get('mac_address')}) on network {f.port['network_id']}, "
        f"host {f.port.get('binding:host_id') or '(unbound)'}",
        shown,
    )


def port_active(f: PortFacts) -> Result:
    """The agent reports the port wired (``ACTIVE``)."""
    assert f.port is not None
    status = f.port.get("status")
    if status != "ACTIVE":
        return failed(
            f"port {f.port['id']} is {status}: the agent on "
            f"{f.port.get('binding:host_id') or '(no host)'} has not wired it",
            "plug the instance (`floatnet lab …` or your hypervisor) and check the agent (checks below)",
            f"floatnet port-show {f.port['id']}",
        )
    return passed(f"port {f.port['id']} is ACTIVE", f"floatnet port-show {f.port['id']}")


def subnet(f: Facts) -> Result:
    """The port's network and the subnet of the fixed address exist."""
    assert f.port is not None
    if f.network is None:
        return failed(f"network {f.port['network_id']} of the port is gone", "recreate the port on a live network")
    if f.subnet is None:
        return failed(
            f"no subnet of network {f.network['id']} holds {f.fixed_ip}",
            "give the port an address on a subnet of its network",
            f"floatnet port-show {f.port['id']}",
        )
    return passed(
        f"subnet {f.subnet['id']} {f.subnet['cidr']} (gateway {f.subnet.get('gateway_ip')}) on "
        f"{f.network.get('provider:network_type')} network {f.network.get('name') or f.network['id']}",
        f"floatnet subnet-show {f.subnet['id']}",
    )


def router(f: Facts) -> Result:
    """The floating IP names a router (set on association) that exists and is up."""
    assert f.fip is not None
    if not f.fip.get("router_id"):
        return failed(
            f"{f.fip_address} has no router_id: no router joins its network to the port's subnet",
            "add the subnet to a router with a gateway on the floating IP's network, then re-associate",
            f"floatnet floatingip-show {f.fip['id']}",
        )
    if f.router is None:
        return failed(
            f"router {f.fip['router_id']} does not exist",
            "re-associate the floating IP",
            f"floatnet router-show {f.fip['router_id']}",
        )
    if not f.router.get("admin_state_up", True):
        return failed(
            f"router {f.router['id']} is administratively down",
            f"`floatnet router-update {f.router['id']} --admin-state-up True`",
            f"floatnet router-show {f.router['id']}",
        )
    return passed(f"router {f.router.get('name') or ''} {f.router['id']}", f"floatnet router-show {f.router['id']}")


def router_gateway(f: Facts) -> Result:
    """The router's gateway is on the floating IP's network, with an address on the FIP's subnet."""
    assert f.fip is not None and f.router is not None
    info = f.router.get("external_gateway_info") or {}
    shown = f"floatnet router-show {f.router['id']}"
    fix = f"`floatnet router-gateway-set {f.router['id']} {f.fip['floating_network_id']}`"
    if info.get("network_id") != f.fip["floating_network_id"]:
        where = info.get("network_id") or "no network"
        return failed(
            f"the router's gateway is on {where}, not the floating IP's network {f.fip['floating_network_id']}",
            fix,
            shown,
        )
    if f.gateway_port is None or f.external_subnet is None:
        return failed("the router has no gateway port on the floating IP's subnet", fix, shown)
    if not any(fixed["subnet_id"] == f.external_subnet["id"] for fixed in f.gateway_port.get("fixed_ips", [])):
        return failed(f"the gateway port has no address on {f.external_subnet['cidr']}", fix, shown)
    return passed(
        f"gateway {f.gateway_cidr} on network {f.fip['floating_network_id']} (port {f.gateway_port['id']})",
        shown,
    )


def router_interface(f: Facts) -> Result:
    """The router has an interface on the instance's subnet."""
    assert f.router is not None and f.subnet is not None
    if f.interface_port is None:
        return failed(
            f"router {f.router['id']} has no interface on subnet {f.subnet['id']} {f.subnet['cidr']}",
            f"`floatnet router-interface-add {f.router['id']} {f.subnet['id']}`",
            f"floatnet port-list --device_id {f.router['id']}",
        )
    return passed(
        f"interface {f.interface_cidr} (port {f.interface_port['id']})",
        f"floatnet port-list --device_id {f.router['id']}",
    )


def external_subnet(f: Facts) -> Result:
    """The external subnet has a gateway (the upstream router the default route points at)."""
    assert f.external_subnet is not None
    ext = f.external_subnet
    shown = f"floatnet subnet-show {ext['id']}"
    gateway = ext.get("gateway_ip")
    if not gateway:
        return failed(
            f"external subnet {ext['cidr']} has no gateway_ip: the router has no default route out",
            f"`floatnet subnet-update {ext['id']} --gateway-ip UPSTREAM_ROUTER_IP`",
            shown,
        )
    if not ip_in(gateway, ext["cidr"]):
        return failed(
            f"gateway {gateway} is outside {ext['cidr']}",
            f"`floatnet subnet-update {ext['id']} --gateway-ip ADDRESS_IN_{ext['cidr']}`",
            shown,
        )
    return passed(f"external subnet {ext['cidr']} gateway {gateway}", shown)


def agent(f: Facts) -> Result:
    """An L3 agent and the port host's OVS agent are alive, and none reports an error for this path (when
    one reports having repaired the path, when and what is shown)."""
    shown = "openstack network agent list  (GET /v2.0/agents)"
    if not f.agents:
        return failed(
            "no agent has ever registered with the server",
            "start the node agent: `floatnet agent --config FILE` (or `floatnet up`)",
            shown,
        )
    assert f.port is not None
    host = f.port.get("binding:host_id")
    _need_alive(f.agents, L3_AGENT, None, shown)
    ovs = _need_alive(f.agents, OVS_AGENT, host or None, shown)
    ids = {f.fip["id"] if f.fip else "", f.port["id"], f.router_id}
    for row in f.agents:
        for error in (row.get("configurations") or {}).get("errors") or []:
            if isinstance(error, dict) and error.get("id") in ids:
                return failed(
                    f"agent on {row['host']} failed to apply {error.get('kind')} {error.get('id')}: "
                    f"{error.get('reason')}",
                    "see the agent's log; fix the cause and it retries",
                    shown,
                )
    return passed(f"agents alive on {ovs['host']}{_last_repair(f.agents, ids)}", shown)


def _last_repair(agents: list[dict[str, Any]], ids: set[str]) -> str:
    """"; last repaired …" for the newest repair an agent reports of one of ``ids`` (the floating IP, its port,
    its router): the agent repairs drift by itself, and an operator chasing a flap wants to know it did."""
    found = [
        r for row in agents for r in (row.get("configurations") or {}).get("repairs") or ()
        if isinstance(r, dict) and r.get("id") in ids
    ]  # fmt: skip
    if not found:
        return ""
    last = max(found, key=lambda r: str(r.get("at")))
    return f"; last repaired {last.get('kind')} {last.get('id')} at {last.get('at')} UTC: {last.get('what')}"


def _need_alive(agents: list[dict[str, Any]], agent_type: str, host: str | None, shown: str) -> dict[str, Any]:
    """The alive agent of ``agent_type`` (on ``host`` if given), else CheckFailed saying which one is down."""
    rows = [a for a in agents if a.get("agent_type") == agent_type and (host is None or a.get("host") == host)]
    alive = [a for a in rows if a.get("alive")]
    if alive:
        return alive[0]
    where = f" on host {host}" if host else ""
    if not rows:
        raise CheckFailed(
            f"no {agent_type}{where} is registered",
            f"start `floatnet agent` on {host or 'the network node'} (its [agent] host must match)",
            shown,
        )
    last = rows[0].get("heartbeat_timestamp")
    raise CheckFailed(
        f"the {agent_type}{where} is dead (last heartbeat {last})",
        f"restart `floatnet agent` on {host or rows[0].get('host')} and read its log",
        shown,
    )
