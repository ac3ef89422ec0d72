"""One dnsmasq per network, in its ``qdhcp-<network_id>`` namespace, bound to the network's DHCP device.

Static leases only (``static`` ranges): a MAC without a host entry gets no lease. IPv4 subnets get DHCPv4
with options router, DNS, classless routes and MTU; IPv6 subnets follow their ``ipv6_address_mode`` as
Neutron's dnsmasq driver does: ``dhcpv6-stateful`` (or no mode) a ``static`` range with the prefix length and
host entries with addresses, ``dhcpv6-stateless`` the same range but host entries without addresses (dnsmasq
answers only for options), ``slaac`` no range at all; DHCPv6 carries the DNS servers and the domain
(``option6:dns-server``, ``option6:domain-search``) — IPv6 has no DHCP router or route options (router
advertisements carry them). Every address, however formed, resolves by name. A port's own options (Neutron's
``extra_dhcp_opts``) reach only that port: its host entries set the tag ``port-<id>`` and the options file
carries each option for that tag, formatted as Neutron's dnsmasq driver does. Everything that changes
often lives in files dnsmasq re-reads on SIGHUP (hosts, options, instance names, upstream servers); the
command line holds only what needs a restart (interface, subnets, domain, MTU), so :meth:`Dnsmasq.ensure`
restarts only when it changes. Files are written atomically (temp + rename); a process is signalled only after
its ``/proc/PID/cmdline`` shows it is the dnsmasq we started for that network (a PID can be reused).
"""

from __future__ import annotations

import ipaddress
import os
import re
import signal
from dataclasses import dataclass
from pathlib import Path

from floatnet.linux import daemons
from floatnet.linux.errors import KernelError
from floatnet.linux.ovs_daemon import pid_alive

LEASE_TIME = 86400
STATEFUL_OR_STATELESS = ("dhcpv6-stateful", "dhcpv6-stateless")
CLIENT_ID = ("client-id", "61")  # neutron-lib's DHCP_OPT_CLIENT_ID and its option number
_LABEL_BAD = re.compile(r"[^a-z0-9-]+")


@dataclass(frozen=True)
class DhcpSubnet:
    """One DHCP-enabled subnet: options router (3), DNS servers (6), classless routes (121) come from it; an
    IPv6 one's modes say whether dnsmasq serves it at all (:meth:`serves_dhcpv6`) and which addresses."""

    id: str
    cidr: str
    gateway_ip: str | None = None
    dns_nameservers: tuple[str, ...] = ()
    host_routes: tuple[tuple[str, str], ...] = ()
    ipv6_ra_mode: str | None = None
    ipv6_address_mode: str | None = None

    @property
    def version(self) -> int:
        return ipaddress.ip_network(self.cidr, strict=False).version

    def serves_dhcpv6(self) -> bool:
        """Neutron's rule: DHCPv6 for ``dhcpv6-stateful``/``dhcpv6-stateless`` address modes, and for an IPv6
        subnet without modes (stateful, the behaviour before modes existed); a SLAAC subnet gets none."""
        return self.ipv6_address_mode in STATEFUL_OR_STATELESS or not (self.ipv6_address_mode or self.ipv6_ra_mode)

    def leases_addresses(self) -> bool:
        """Whether dnsmasq hands out this subnet's addresses (IPv4, stateful DHCPv6) rather than hosts forming
        them (SLAAC, and stateless DHCPv6 where dnsmasq only answers for options)."""
        return self.version == 4 or (self.serves_dhcpv6() and self.ipv6_address_mode != "dhcpv6-stateless")


@dataclass(frozen=True)
class DhcpHost:
    """A static lease: this MAC gets this IP and this host name (also served by DNS), and the port's own
    DHCP options (``(name, value, ip_version)``; ``port_id`` names their tag)."""

    mac: str
    ip: str
    hostname: str
    port_id: str = ""
    options: tuple[tuple[str, str, int], ...] = ()


@dataclass(frozen=True)
class DhcpSpec:
    """Everything one network's dnsmasq serves.

    ``dns_servers``: what subnets without ``dns_nameservers`` hand out (normally the DHCP port's own address,
    where dnsmasq answers and forwards to ``upstream_dns``). ``mtu``: option 26 when set.
    """

    network_id: str
    netns: str
    interface: str
    subnets: tuple[DhcpSubnet, ...]
    hosts: tuple[DhcpHost, ...] = ()
    dns_servers: tuple[str, ...] = ()
    upstream_dns: tuple[str, ...] = ()
    domain: str = "openstacklocal"
    mtu: int | None = None
    lease_time: int = LEASE_TIME


def hostname_label(name: str, ip: str) -> str:
    """A valid DNS label for a host (Neutron's ``host-10-0-0-5`` when the name has nothing usable)."""
    label = _LABEL_BAD.sub("-", name.lower()).strip("-")[:63].strip("-")
    return label or "host-" + ip.replace(".", "-").replace(":", "-")


def _tag(subnet: DhcpSubnet) -> str:
    return f"subnet-{subnet.id}"


def _subnet_dns(spec: DhcpSpec, subnet: DhcpSubnet) -> list[str]:
    """The subnet's own servers, else the spec's servers inside this subnet, else all the spec's servers —
    only those of the subnet's IP version (an option carries one family)."""
    net = ipaddress.ip_network(subnet.cidr, strict=False)
    if subnet.dns_nameservers:
        return [d for d in subnet.dns_nameservers if ipaddress.ip_address(d).version == net.version]
    same = [d for d in spec.dns_servers if ipaddress.ip_address(d).version == net.version]
    inside = [d for d in same if ipaddress.ip_address(d) in net]
    return inside or same


def _subnet_options(spec: DhcpSpec, subnet: DhcpSubnet) -> list[str]:
    tag = f"tag:{_tag(subnet)}"
    if subnet.version == 6:
        if not subnet.serves_dhcpv6():
            return []
        dns6 = ",".join(f"[{d}]" for d in _subnet_dns(spec, subnet))
        if subnet.ipv6_address_mode == "dhcpv6-stateless":  # untagged: see _stateless_domain
            return [f"option6:dns-server,{dns6}"] if dns6 and subnet.dns_nameservers else []
        servers = [f"{tag},option6:dns-server,{dns6}"] if dns6 else []
        return [*servers, f"{tag},option6:domain-search,{spec.domain}"]  # hostnames resolve over IPv6 too
    lines = [f"{tag},option:router,{subnet.gateway_ip}" if subnet.gateway_ip else f"{tag},option:router"]
    dns = _subnet_dns(spec, subnet)
    if dns:
        lines.append(f"{tag},option:dns-server,{','.join(dns)}")
    if subnet.host_routes:
        # RFC 3442: a client given classless routes ignores option 3, so the default route goes in too
        routes = [f"{ipaddress.ip_network(d, strict=False)},{via}" for d, via in subnet.host_routes]
        if subnet.gateway_ip:
            routes.append(f"0.0.0.0/0,{subnet.gateway_ip}")
        lines.append(f"{tag},option:classless-static-route,{','.join(routes)}")
        lines.append(f"{tag},249,{','.join(routes)}")
    return lines


def format_option(ip_version: int, tag: str, name: str, value: str) -> str:
    """One options-file line as Neutron's dnsmasq driver writes it: ``tag:<tag>[,<extra tag>],<option>,<value>``.

    A name may carry an extra condition (``tag:ipxe,bootfile-name``); IPv6 options are ``option6:<name>``,
    IPv4 ones ``option:<name>`` unless given by number. Only the first line of a name or value is used, so a
    value can never add a line of its own (dnsmasq logs and skips a line it cannot parse).
    """
    found = re.match(r"(tag:(.*),)?(.*)$", name.split("\n", 1)[0])
    assert found is not None
    extra, option = found.group(1), found.group(3)
    if ip_version == 6:
        option = f"option6:{option}"
    elif not option.isdigit():
        option = f"option:{option}"
    fields = [f"tag:{tag}", *([extra[:-1]] if extra else []), option, value.split("\n", 1)[0]]
    return ",".join(fields)


def _port_options(spec: DhcpSpec) -> list[str]:
    """The options of each port for its tag, only for the IP versions the port has addresses of; ``client-id``
    is left out as Neutron leaves it out (it identifies a client, it is not an option to send)."""
    versions: dict[str, set[int]] = {}
    options: dict[str, tuple[tuple[str, str, int], ...]] = {}
    for h in spec.hosts:
        if h.options:
            versions.setdefault(h.port_id, set()).add(ipaddress.ip_address(h.ip).version)
            options[h.port_id] = h.options
    return [
        format_option(version, f"port-{port_id}", name, value)
        for port_id in sorted(options)
        for name, value, version in options[port_id]
        if version in versions[port_id] and name not in CLIENT_ID
    ]


def _host_line(spec: DhcpSpec, h: DhcpHost, label: str) -> str | None:
    """A host's ``dhcp-hostsfile`` line: MAC, address and name where dnsmasq leases the address; where hosts
    form it (SLAAC, stateless DHCPv6) no address — only the port's tag when it has options to receive by
    stateless DHCPv6 — as Neutron's driver writes it."""
    tag = f",set:port-{h.port_id}" if h.options else ""
    ip = ipaddress.ip_address(h.ip)
    subnet = next((s for s in spec.subnets if ip in ipaddress.ip_network(s.cidr, strict=False)), None)
    if subnet is None or subnet.leases_addresses():
        address = f"[{h.ip}]" if ip.version == 6 else h.ip  # dnsmasq's syntax for an IPv6 host address
        return f"{h.mac.lower()},{address},{label}{tag}"
    if tag and subnet.ipv6_address_mode == "dhcpv6-stateless":
        return f"{h.mac.lower()}{tag}"
    return None


def _stateless_domain(spec: DhcpSpec) -> list[str]:
    """Options for stateless DHCPv6 go untagged: dnsmasq sets no range's tag on an Information-Request (no
    address is chosen, so no subnet is), and a tagged option would never reach it. The domain is the network's
    (one for all subnets); DNS servers only where the subnet names its own (otherwise dnsmasq offers itself,
    which is what the DHCP port's address as server means)."""
    stateless = any(s.version == 6 and s.ipv6_address_mode == "dhcpv6-stateless" for s in spec.subnets)
    return [f"option6:domain-search,{spec.domain}"] if stateless else []


def render_files(spec: DhcpSpec) -> dict[str, str]:
    """The files dnsmasq re-reads on SIGHUP, by name: ``host``, ``opts``, ``addn_hosts``, ``servers``."""
    hosts, names = [], []
    for h in sorted(spec.hosts, key=lambda h: (h.ip, h.mac)):
        label = hostname_label(h.hostname, h.ip)
        names.append(f"{h.ip}\t{label}.{spec.domain} {label}")  # every address resolves, however it was formed
        line = _host_line(spec, h, label)
        if line is not None:
            hosts.append(line)
    opts = [line for s in spec.subnets for line in _subnet_options(spec, s)] + _stateless_domain(spec)
    opts += _port_options(spec)
    servers = [f"server={ip}" for ip in spec.upstream_dns]
    return {
        "host": "".join(f"{x}\n" for x in hosts),
        "opts": "".join(f"{x}\n" for x in opts),
        "addn_hosts": "".join(f"{x}\n" for x in names),
        "servers": "".join(f"{x}\n" for x in servers),
    }


def _has_port_tags(hosts_file: Path) -> bool:
    """Whether a hosts file (as written by :func:`render_files`) sets per-port tags."""
    try:
        return ",set:port-" in hosts_file.read_text()
    except FileNotFoundError:
        return False


class Dnsmasq:
    """The dnsmasq processes of one agent; each network's files live in ``state_dir/<network_id>/``.

    ``user``: the account dnsmasq switches to after start; it must be able to read ``state_dir`` (default
    root, so any state directory works).
    """

    def __init__(self, state_dir: str | os.PathLike[str], user: str = "root") -> None:
        self.state_dir = Path(state_dir).resolve()
        self.user = user

    def _dir(self, network_id: str) -> Path:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", network_id) or network_id in (".", ".."):
            raise KernelError("dnsmasq", repr(network_id), "invalid network id")
        return self.state_dir / network_id

    def _pidfile(self, network_id: str) -> Path:
        return self._dir(network_id) / "pid"

    def argv(self, spec: DhcpSpec) -> list[str]:
        """dnsmasq's command line for ``spec``: only what SIGHUP cannot change."""
        d = self._dir(spec.network_id)
        argv = [
            "dnsmasq", "--conf-file=/dev/null", "--no-hosts", "--no-resolv", f"--log-facility={d / 'log'}",
            f"--pid-file={d / 'pid'}", f"--dhcp-hostsfile={d / 'host'}", f"--dhcp-optsfile={d / 'opts'}",
            f"--addn-hosts={d / 'addn_hosts'}", f"--servers-file={d / 'servers'}", "--leasefile-ro",
            f"--interface={spec.interface}", "--bind-dynamic", f"--user={self.user}", "--group=nogroup",
            f"--domain={spec.domain}", f"--local=/{spec.domain}/", "--dhcp-authoritative",
        ]  # fmt: skip
        for s in sorted(spec.subnets, key=lambda s: s.id):
            if s.version == 6 and not s.serves_dhcpv6():
                continue  # SLAAC: the router's advertisements are all a host needs
            net = ipaddress.ip_network(s.cidr, strict=False)
            mask = net.prefixlen if net.version == 6 else net.netmask  # IPv6 ranges take a prefix length
            argv.append(f"--dhcp-range=set:{_tag(s)},{net.network_address},static,{mask},{spec.lease_time}s")
        if spec.mtu:  # forced: many clients do not ask for option 26, yet a wrong MTU breaks them quietly
            argv.append(f"--dhcp-option-force=option:mtu,{spec.mtu}")
        return argv

    def pid(self, network_id: str) -> int | None:
        """The PID of this network's dnsmasq if it runs (checked against its command line), else None."""
        try:
            pid = int(self._pidfile(network_id).read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid, f"--pid-file={self._pidfile(network_id)}") else None

    def cmdline(self, pid: int) -> list[str]:
        try:
            raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return []
        return [a.decode(errors="replace") for a in raw.split(b"\0") if a]

    def running(self) -> dict[str, int]:
        """``{network_id: pid}`` of the dnsmasq processes this agent started that still run."""
        if not self.state_dir.is_dir():
            return {}
        out = {}
        for entry in sorted(self.state_dir.iterdir()):
            pid = self.pid(entry.name) if entry.is_dir() else None
            if pid is not None:
                out[entry.name] = pid
        return out

    def ensure(self, spec: DhcpSpec) -> str:
        """Make the network's dnsmasq serve ``spec``; returns started | restarted | reloaded | unchanged.

        Files are rewritten atomically; a running dnsmasq with the same command line gets SIGHUP if a file
        changed, one with another command line is restarted. While host entries carry per-port tags (extra
        DHCP options), a change restarts it instead: dnsmasq 2.90 segfaults re-reading a hosts file with
        ``set:`` tags on SIGHUP once it has leased to such a host.
        """
        d = self._dir(spec.network_id)
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o755)
        tagged = _has_port_tags(d / "host")
        changed = [daemons.write_atomically(d / name, text) for name, text in render_files(spec).items()]
        tagged = tagged or _has_port_tags(d / "host")
        argv = self.argv(spec)
        pid = self.pid(spec.network_id)
        if pid is not None and self.cmdline(pid) == argv:
            if not any(changed):
                return "unchanged"
            if not tagged:
                os.kill(pid, signal.SIGHUP)
                return "reloaded"
        if pid is not None:
            self._terminate(pid, spec.network_id)
        self._start(spec, argv)
        return "restarted" if pid is not None else "started"

    def _start(self, spec: DhcpSpec, argv: list[str]) -> int:
        """Run dnsmasq in the namespace; it daemonizes (outliving an agent restart) once its sockets bound."""
        self._pidfile(spec.network_id).unlink(missing_ok=True)
        return daemons.start(spec.netns, argv, "start dnsmasq", spec.network_id, lambda: self.pid(spec.network_id))

    def _terminate(self, pid: int, network_id: str) -> None:
        daemons.terminate(pid, f"--pid-file={self._pidfile(network_id)}")

    def stop(self, network_id: str) -> bool:
        """Stop the network's dnsmasq (by its checked PID) and remove its files; True if one was running."""
        pid = self.pid(network_id)
        if pid is not None:
            self._terminate(pid, network_id)
        daemons.remove_files(self._dir(network_id))
        return pid is not None
