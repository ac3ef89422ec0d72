"""Router advertisements: one radvd per router, in its ``qrouter-`` namespace, advertising on its ``qr-`` devices.

Why radvd (as Neutron) rather than dnsmasq's RA: the flags a subnet's ``ipv6_ra_mode`` implies are set exactly
and per device (``AdvManagedFlag`` for ``dhcpv6-stateful``, ``AdvOtherConfigFlag`` for ``dhcpv6-stateless``,
``AdvAutonomous`` on a prefix for SLAAC and stateless only, ``AdvLinkMTU`` from the network), and the
advertisements come from the router's own ``qr-`` device — its link-local address becomes the instances'
default gateway — while DHCPv6 stays with the network's dnsmasq in ``qdhcp-``. dnsmasq's RA derives the flags
from its DHCP ranges, so it would have to run in the router namespace as a second DHCPv6 server to say "M".

The configuration is one text (:func:`render`, pure: the planner compares it with what runs); a changed text is
written atomically and radvd re-reads it on SIGHUP; a process is signalled only after its command line shows it
is the radvd started for that router (a PID can be reused).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from floatnet.linux import daemons

IPV6_MIN_MTU = 1280  # a smaller link MTU is not advertised (RFC 8200; Neutron's template does the same)
MIN_INTERVAL, MAX_INTERVAL = 3, 10  # seconds between unsolicited advertisements (solicited ones come at once)
MODES = ("slaac", "dhcpv6-stateless", "dhcpv6-stateful")


@dataclass(frozen=True)
class RaPrefix:
    """One IPv6 subnet advertised on a device and its ``ipv6_ra_mode``."""

    cidr: str
    mode: str


@dataclass(frozen=True)
class RaInterface:
    """A ``qr-`` device that advertises: its network's MTU and its prefixes."""

    dev: str
    mtu: int | None
    prefixes: tuple[RaPrefix, ...]


def render(interfaces: tuple[RaInterface, ...]) -> str:
    """radvd's configuration for ``interfaces``: per device the M/O flags its prefixes' modes imply (M for
    stateful, O for stateless), the MTU, and each prefix on-link, autonomous unless stateful. Raises
    ValueError for an unknown mode (the planner's caller isolates that router)."""
    blocks = []
    for itf in sorted(interfaces, key=lambda i: i.dev):
        modes = {p.mode for p in itf.prefixes}
        if modes - set(MODES):
            raise ValueError(f"unknown ipv6_ra_mode {sorted(modes - set(MODES))} on {itf.dev}")
        lines = [f"interface {itf.dev}", "{", "    AdvSendAdvert on;",
                 f"    MinRtrAdvInterval {MIN_INTERVAL};", f"    MaxRtrAdvInterval {MAX_INTERVAL};"]  # fmt: skip
        if itf.mtu is not None and itf.mtu >= IPV6_MIN_MTU:
            lines.append(f"    AdvLinkMTU {itf.mtu};")
        if "dhcpv6-stateful" in modes:
            lines.append("    AdvManagedFlag on;")
        if "dhcpv6-stateless" in modes:
            lines.append("    AdvOtherConfigFlag on;")
        for prefix in sorted(itf.prefixes, key=lambda p: p.cidr):
            auto = "off" if prefix.mode == "dhcpv6-stateful" else "on"
            lines += [f"    prefix {prefix.cidr}", "    {", "        AdvOnLink on;", f"        AdvAutonomous {auto};",
                      "    };"]  # fmt: skip
        blocks.append("\n".join([*lines, "};"]))
    return "".join(f"{b}\n" for b in blocks)


class Radvd(daemons.RouterDaemon):
    """The radvd processes of one agent; each router's files live in ``state_dir/<router_id>/``."""

    name, config_name = "radvd", "radvd.conf"

    def argv(self, directory: Path) -> list[str]:
        """radvd daemonizes once its configuration was read."""
        return ["radvd", "-C", str(directory / self.config_name), "-p", str(directory / "pid"), "-m", "logfile",
                "-l", str(directory / "log")]  # fmt: skip
