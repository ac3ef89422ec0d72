"""Resource statuses the agent reports back (``PUT …/status``), computed purely from state and apply results.

- routers: ``ACTIVE`` once their namespace is built, ``ERROR`` when an action for them failed;
- floating IPs: ``ACTIVE`` when their /32 and NAT elements are in place, ``DOWN`` once disassociated (removed
  from the router), ``ERROR`` when applying failed;
- HA routers' replicas (``ha_states``): ``active`` on the VRRP MASTER, else ``standby`` (l3-ha's ``ha_state``);
- ports: router and DHCP ports ``ACTIVE`` once wired; instance ports ``ACTIVE`` when a device with their
  iface-id sits on the right bridge with the right tag and — with port security — their filter is installed
  and current, ``DOWN`` when unplugged (or administratively down), ``ERROR`` when they cannot be filtered;
- ``dhcp_ready``: the instance ports this node's dnsmasq now serves, for the networks whose DHCP was applied
  without error (hosts file written, dnsmasq reloaded) — the server holds those ports ``DOWN`` until a DHCP
  server confirms them (provisioning blocks). Each is keyed by what is served (MAC and addresses), so a port is
  reported once per address change, not at every step.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from floatnet.agent.actions import Ref
from floatnet.agent.desired import DesiredState
from floatnet.agent.plan_security import filtered
from floatnet.agent.state import Observed
from floatnet.linux import names

ACTIVE, DOWN, ERROR = "ACTIVE", "DOWN", "ERROR"
READY = "dhcp_ready"
KINDS = {"port": "ports", "floatingip": "floatingips", "router": "routers", "ha_state": "ha_states", READY: READY}
Statuses = dict[str, dict[str, str]]


def _put(out: Statuses, errors: Mapping[Ref, str], kind: str, ident: str, ok: str) -> None:
    out[KINDS[kind]][ident] = ERROR if (kind, ident) in errors else ok


def compute(
    desired: DesiredState, observed: Observed, errors: Mapping[Ref, str], gone_fips: Iterable[str] = ()
) -> Statuses:
    """Statuses of every router, floating IP and port in ``desired`` (plus DOWN for ``gone_fips``), and the ports
    served by its DHCP networks (:func:`dhcp_ready`)."""
    out: Statuses = {"ports": {}, "floatingips": {}, "routers": {}, "ha_states": {}, READY: dhcp_ready(desired, errors)}
    for router in desired.routers.values():
        if not router.admin_state_up:
            continue
        _put(out, errors, "router", router.id, ACTIVE)
        if router.ha is not None:
            nsobs = observed.namespaces.get(names.router_ns(router.id))
            out["ha_states"][router.id] = "active" if nsobs is not None and nsobs.ha_master else "standby"
        ports = [i.port_id for i in router.interfaces] + ([router.gateway.port_id] if router.gateway else [])
        ports += [router.ha.port.port_id] if router.ha else []
        for port_id in ports:
            _put(out, errors, "port", port_id, ACTIVE)
        for fip in router.floatingips.values():
            _put(out, errors, "floatingip", fip.id, ACTIVE)
    for network in desired.networks.values():
        if network.dhcp is not None:
            failed = ("network", network.id) in errors
            _put(out, errors, "port", network.dhcp.port_id, ERROR if failed else ACTIVE)
    wired = observed.ports_by_iface_id()
    for port in desired.ports.values():
        found = wired.get(port.id)
        ok = found is not None and found.attached and found.bridge == port.wiring.bridge and found.tag == port.tag
        ok = ok and (not port.port_security or filtered(desired, observed, port))
        _put(out, errors, "port", port.id, ACTIVE if ok and port.admin_state_up else DOWN)
    for fip_id in gone_fips:
        out["floatingips"].setdefault(fip_id, DOWN)
    return out


def dhcp_ready(desired: DesiredState, errors: Mapping[Ref, str]) -> dict[str, str]:
    """Port id -> what this node's dnsmasq serves it (``mac ip …``), for every network of ``desired`` whose DHCP
    applied without error (an error leaves the hosts file or dnsmasq unconfirmed: nothing is reported)."""
    served: dict[str, list[str]] = {}
    for network in desired.networks.values():
        if network.dhcp is None or ("network", network.id) in errors:
            continue
        for host in network.dhcp.hosts:
            served.setdefault(host.port_id, [host.mac_address]).append(host.ip_address)
    return {port_id: " ".join([entry[0], *sorted(entry[1:])]) for port_id, entry in served.items()}


def refs(statuses: Statuses) -> set[tuple[str, str]]:
    """The ``(kind, id)`` references of every resource in ``statuses``."""
    kind_of = {plural: kind for kind, plural in KINDS.items()}
    return {(kind_of[plural], ident) for plural, values in statuses.items() for ident in values}


def known(desired: DesiredState) -> dict[tuple[str, str], str]:
    """The statuses the server already holds, as far as the state document tells (ports and floating IPs)."""
    out = {("ports", p.id): p.status for p in desired.ports.values()}
    for router in desired.routers.values():
        out.update((("floatingips", f.id), f.status) for f in router.floatingips.values())
    return out


def changed(statuses: Statuses, reported: Mapping[tuple[str, str], str]) -> Statuses:
    """Only the statuses that differ from what was last reported (or what the server is known to hold)."""
    out: Statuses = {kind: {} for kind in statuses}
    for kind, values in statuses.items():
        for ident, status in values.items():
            if reported.get((kind, ident)) != status:
                out[kind][ident] = status
    return out
