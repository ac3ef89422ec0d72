"""The floatnet ini file, with the seed's section and option names.

One file configures the server, the agent and the lab, like Neutron's ``neutron.conf`` + ``ml2_conf.ini`` merged:

```
[DEFAULT]
auth_strategy = noauth          ; noauth | keystone
bind = 127.0.0.1:9696
allow_insecure_noauth_on_network = false   ; noauth on a non-loopback bind: refused unless true
state_dir = /var/lib/floatnet
max_subnet_host_routes = 20     ; Neutron's subnet limits
max_dns_nameservers = 5
max_fixed_ips_per_port = 5
allow_automatic_l3agent_failover = false   ; routers of a dead agent move to a live one (Neutron's default: no)
allow_automatic_dhcp_failover = true       ; DHCP servers of a dead agent move (Neutron's default: yes)
dhcp_agents_per_network = 1     ; DHCP agents serving each network, each with its own DHCP port (1 or more)
l3_ha = false                   ; new routers are HA (keepalived VRRP replicas) unless the request says otherwise
max_l3_agents_per_router = 3    ; replicas of an HA router (0: every alive L3 agent)
l3_ha_net_cidr = 169.254.192.0/18   ; the per-project HA network's subnet (VRRP between replicas)
ha_vrrp_advert_int = 2          ; keepalived's VRRP advertisement interval in seconds (Neutron's default)

[quotas]                        ; Neutron's default per-project limits (-1: unlimited)
quota_network = 100
quota_subnet = 100
quota_port = 500
quota_router = 10
quota_floatingip = 50
quota_security_group = 10
quota_security_group_rule = 100
quota_rbac_policy = 10

[database]
connection = sqlite:////var/lib/floatnet/floatnet.db   ; or postgresql://user:pw@host/db

[ml2]
type_drivers = flat,vlan,vxlan
tenant_network_types = vlan,flat      ; new name: project_network_types

[ml2_type_flat]
flat_networks = public_eth0           ; or * for any physnet

[ml2_type_vlan]
network_vlan_ranges = public_eth1:100:199,public_eth2   ; a bare physnet: provider networks only

[ml2_type_vxlan]
vni_ranges = 1:1000

[ovs]
bridge_mappings = public_eth0:br-ex,public_eth1:br-eth1
physical_interfaces = public_eth1:eth1   ; optional: add this interface to the physnet's bridge
datapath_type = auto                     ; auto | system | netdev
ovsdb_connection =                       ; empty: the system's, else floatnet starts its own
local_ip = 10.0.0.11                     ; this node's VXLAN endpoint (empty: no vxlan networks here)

[agent]
host = <hostname>
upstream_dns = 198.51.100.53          ; resolvers dnsmasq forwards to
report_interval = 5
availability_zone = nova              ; the zone this node's L3 and DHCP agents report (Neutron's default)
roles = l3,dhcp,compute               ; what this node runs: the L3 agent, the DHCP agent, instances
ha_conntrackd_enabled = false         ; HA routers sync their connection tracking (conntrackd) between replicas
```

Parsing is strict: a wrong value raises :class:`ConfigError` naming the section, the option and the value, so a
server or agent never starts half-configured.
"""

from __future__ import annotations

import configparser
import ipaddress
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

KNOWN_TYPES = ("flat", "vlan", "vxlan", "local")
ROLES = ("l3", "dhcp", "compute")
VLAN_MIN, VLAN_MAX = 1, 4094
VNI_MIN, VNI_MAX = 1, 2**24 - 1


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the option and the value."""


@dataclass(frozen=True)
class VlanRange:
    """A physnet and, unless it only hosts provider networks, the VLAN ids tenants may be given on it."""

    physnet: str
    minimum: int | None = None
    maximum: int | None = None

    @property
    def has_pool(self) -> bool:
        return self.minimum is not None


@dataclass(frozen=True)
class Config:
    """Everything floatnet reads from its ini file, already validated."""

    state_dir: Path = Path("/var/lib/floatnet")
    auth_strategy: str = "noauth"
    bind_host: str = "127.0.0.1"
    bind_port: int = 9696
    allow_insecure_noauth_on_network: bool = False
    max_subnet_host_routes: int = 20
    max_dns_nameservers: int = 5
    max_fixed_ips_per_port: int = 5
    allow_automatic_l3agent_failover: bool = False
    allow_automatic_dhcp_failover: bool = True
    dhcp_agents_per_network: int = 1
    l3_ha: bool = False
    max_l3_agents_per_router: int = 3
    l3_ha_net_cidr: str = "169.254.192.0/18"
    ha_vrrp_advert_int: float = 2.0
    quota_overrides: dict[str, int] = field(default_factory=dict)  # [quotas] quota_<resource>, as set
    database_connection: str = ""
    type_drivers: tuple[str, ...] = ("flat", "vlan", "vxlan")
    tenant_network_types: tuple[str, ...] = ("vlan",)
    flat_networks: tuple[str, ...] = ("*",)
    vlan_ranges: tuple[VlanRange, ...] = ()
    vni_ranges: tuple[tuple[int, int], ...] = ()
    bridge_mappings: dict[str, str] = field(default_factory=dict)
    physical_interfaces: dict[str, str] = field(default_factory=dict)
    datapath_type: str = "auto"
    ovsdb_connection: str = ""
    local_ip: str = ""  # [ovs] local_ip: the VXLAN tunnel endpoint (Neutron's OVS agent option); "" = none
    host: str = field(default_factory=socket.gethostname)
    upstream_dns: tuple[str, ...] = ()
    report_interval: float = 5.0
    availability_zone: str = "nova"
    roles: tuple[str, ...] = ROLES
    ha_conntrackd_enabled: bool = False  # [agent]: conntrackd beside keepalived in every HA router replica
    keystone_authtoken: dict[str, str] = field(default_factory=dict)
    policy_file: str = ""

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL: the configured one, else SQLite in the state dir."""
        return self.database_connection or f"sqlite:///{self.state_dir / 'floatnet.db'}"

    @property
    def vlan_physnets(self) -> tuple[str, ...]:
        return tuple(r.physnet for r in self.vlan_ranges)

    def flat_allowed(self, physnet: str) -> bool:
        return "*" in self.flat_networks or physnet in self.flat_networks


def _split(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


def _error(section: str, option: str, value: str, why: str) -> ConfigError:
    return ConfigError(f"[{section}] {option} = {value!r}: {why}")


def _int_in(section: str, option: str, value: str, text: str, low: int, high: int) -> int:
    try:
        number = int(text)
    except ValueError:
        raise _error(section, option, value, f"{text!r} is not a whole number") from None
    if not low <= number <= high:
        raise _error(section, option, value, f"{number} is outside {low}..{high}")
    return number


def parse_types(section: str, option: str, value: str) -> tuple[str, ...]:
    """A comma list of network types, each one floatnet knows."""
    types = _split(value)
    for name in types:
        if name not in KNOWN_TYPES:
            raise _error(section, option, value, f"unknown network type {name!r} (known: {', '.join(KNOWN_TYPES)})")
    return types


def parse_vlan_ranges(value: str) -> tuple[VlanRange, ...]:
    """``physnet:min:max`` entries (several allowed, also several per physnet) or a bare ``physnet``."""
    ranges = []
    for item in _split(value):
        parts = item.split(":")
        if len(parts) == 1 and parts[0]:
            ranges.append(VlanRange(parts[0]))
            continue
        if len(parts) != 3 or not parts[0]:
            raise _error("ml2_type_vlan", "network_vlan_ranges", value, f"{item!r} is not physnet or physnet:min:max")
        low = _int_in("ml2_type_vlan", "network_vlan_ranges", value, parts[1], VLAN_MIN, VLAN_MAX)
        high = _int_in("ml2_type_vlan", "network_vlan_ranges", value, parts[2], VLAN_MIN, VLAN_MAX)
        if low > high:
            raise _error("ml2_type_vlan", "network_vlan_ranges", value, f"range {low}:{high} is reversed")
        ranges.append(VlanRange(parts[0], low, high))
    return tuple(ranges)


def parse_vni_ranges(value: str) -> tuple[tuple[int, int], ...]:
    """``min:max`` entries of VXLAN network identifiers."""
    ranges = []
    for item in _split(value):
        parts = item.split(":")
        if len(parts) != 2:
            raise _error("ml2_type_vxlan", "vni_ranges", value, f"{item!r} is not min:max")
        low = _int_in("ml2_type_vxlan", "vni_ranges", value, parts[0], VNI_MIN, VNI_MAX)
        high = _int_in("ml2_type_vxlan", "vni_ranges", value, parts[1], VNI_MIN, VNI_MAX)
        if low > high:
            raise _error("ml2_type_vxlan", "vni_ranges", value, f"range {low}:{high} is reversed")
        ranges.append((low, high))
    return tuple(ranges)


def parse_mappings(section: str, option: str, value: str) -> dict[str, str]:
    """``key:value`` pairs, each key once (``public_eth0:br-ex,public_eth1:br-eth1``)."""
    result: dict[str, str] = {}
    for item in _split(value):
        key, sep, target = item.partition(":")
        if not sep or not key.strip() or not target.strip():
            raise _error(section, option, value, f"{item!r} is not key:value")
        if key.strip() in result:
            raise _error(section, option, value, f"{key.strip()!r} is mapped twice")
        if len(target.strip()) > 15:
            raise _error(section, option, value, f"{target.strip()!r} is longer than 15 characters")
        result[key.strip()] = target.strip()
    return result


def _parse_bind(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host:
        raise _error("DEFAULT", "bind", value, "expected HOST:PORT")
    return host.strip("[]"), _int_in("DEFAULT", "bind", value, port, 1, 65535)


def _parse_dns(value: str) -> tuple[str, ...]:
    servers = _split(value)
    for server in servers:
        try:
            ipaddress.ip_address(server)
        except ValueError:
            raise _error("agent", "upstream_dns", value, f"{server!r} is not an IP address") from None
    return servers


def _parse_local_ip(value: str) -> str:
    """``[ovs] local_ip``: empty, or an IPv4 address (the VXLAN endpoint; floatnet tunnels over IPv4)."""
    if not value.strip():
        return ""
    try:
        return str(ipaddress.IPv4Address(value.strip()))
    except ValueError:
        raise _error("ovs", "local_ip", value, "is not an IPv4 address") from None


def _choice(section: str, option: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _error(section, option, value, f"expected one of {', '.join(choices)}")
    return value


def _tenant_types(parser: configparser.ConfigParser, drivers: tuple[str, ...]) -> tuple[str, ...]:
    option = "project_network_types" if parser.has_option("ml2", "project_network_types") else "tenant_network_types"
    value = parser.get("ml2", option, fallback="vlan")
    types = parse_types("ml2", option, value)
    for name in types:
        if name not in drivers:
            raise _error("ml2", option, value, f"{name!r} is not in [ml2] type_drivers")
    return types


def _zone(value: str) -> str:
    """``[agent] availability_zone``: a name of 1 to 255 characters (Neutron's ``[AGENT] availability_zone``)."""
    name = value.strip()
    if not name or len(name) > 255:
        raise _error("agent", "availability_zone", value, "must be 1 to 255 characters")
    return name


def parse_roles(value: str) -> tuple[str, ...]:
    """``[agent] roles``: a non-empty subset of ``l3``, ``dhcp``, ``compute`` (in that order, no repeats).

    Neutron decides a node's roles by which agents run on it (an L3 agent on network nodes, the DHCP agent
    where DHCP lives, the OVS agent everywhere); floatnet runs one agent process, told its roles here: it
    registers the ``L3 agent`` row only with ``l3``, the ``DHCP agent`` row only with ``dhcp``, and the
    ``Open vSwitch agent`` row always, so the schedulers place routers and DHCP servers only where asked.
    """
    roles = _split(value)
    unknown = [role for role in roles if role not in ROLES]
    if not roles or unknown:
        reason = f"unknown role {unknown[0]!r}" if unknown else "must name at least one role"
        raise _error("agent", "roles", value, f"{reason} (roles: {', '.join(ROLES)})")
    return tuple(role for role in ROLES if role in roles)


def _float(section: str, option: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise _error(section, option, value, "is not a number") from None
    if number <= 0:
        raise _error(section, option, value, "must be positive")
    return number


def _bool(section: str, option: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered not in configparser.ConfigParser.BOOLEAN_STATES:
        raise _error(section, option, value, "expected true or false")
    return configparser.ConfigParser.BOOLEAN_STATES[lowered]


def _limit(parser: configparser.ConfigParser, option: str, default: int) -> int:
    value = parser.get("DEFAULT", option, fallback=str(default))
    return _int_in("DEFAULT", option, value, value, 0, 65535)


def _agents_per_network(parser: configparser.ConfigParser) -> int:
    """``[DEFAULT] dhcp_agents_per_network``: how many DHCP agents serve each network (Neutron's option, at
    least 1: a network with a DHCP subnet is always served)."""
    value = parser.get("DEFAULT", "dhcp_agents_per_network", fallback="1")
    return _int_in("DEFAULT", "dhcp_agents_per_network", value, value, 1, 65535)


QUOTA_RESOURCES = (
    "network", "subnet", "port", "router", "floatingip", "security_group", "security_group_rule", "rbac_policy",
)  # fmt: skip


def _quota_overrides(parser: configparser.ConfigParser) -> dict[str, int]:
    """The ``[quotas] quota_<resource>`` options the file sets (each -1, unlimited, or more): the defaults a
    project without its own limits gets, as Neutron's ``neutron.conf`` ``[quotas]``."""
    found = {}
    for resource in QUOTA_RESOURCES:
        value = parser.get("quotas", f"quota_{resource}", fallback=None)
        if value is not None:
            found[resource] = _int_in("quotas", f"quota_{resource}", value, value, -1, 2**31 - 1)
    return found


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a bind address) is reachable only from this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_noauth_exposure(config: Config) -> None:
    """Refuse ``noauth`` on a bind address other machines can reach, unless the operator opted in.

    With noauth every caller is an administrator, so listening beyond loopback must be a deliberate, visibly
    insecure choice: ``[DEFAULT] allow_insecure_noauth_on_network = true``.
    """
    if config.auth_strategy != "noauth" or config.allow_insecure_noauth_on_network or is_loopback(config.bind_host):
        return
    raise ConfigError(
        f"[DEFAULT] auth_strategy = 'noauth' with bind {config.bind_host}:{config.bind_port}: anyone who can reach "
        "that address would be an administrator. Bind a loopback address, use auth_strategy = keystone, or accept "
        "the risk with [DEFAULT] allow_insecure_noauth_on_network = true"
    )


def _default_bool(parser: configparser.ConfigParser, option: str, fallback: str) -> bool:
    """A ``[DEFAULT]`` boolean option."""
    return _bool("DEFAULT", option, parser.get("DEFAULT", option, fallback=fallback))


def _ha_cidr(value: str) -> str:
    """``[DEFAULT] l3_ha_net_cidr``: an IPv4 network written with its prefix length and no host bits (Neutron's
    ``HANetworkCIDRNotValid`` check, made at startup as Neutron's plugin does), with room for replicas."""
    try:
        net = ipaddress.IPv4Network(value.strip())
    except ValueError:
        raise _error("DEFAULT", "l3_ha_net_cidr", value, "is not an IPv4 network without host bits") from None
    if "/" not in value or net.prefixlen > 29:
        raise _error("DEFAULT", "l3_ha_net_cidr", value, "needs a prefix length of at most /29")
    return str(net)


def _advert_int(value: str) -> float:
    """``[DEFAULT] ha_vrrp_advert_int``: keepalived takes 0.01..255 s (VRRPv2 whole seconds, VRRPv3 centiseconds)."""
    number = _float("DEFAULT", "ha_vrrp_advert_int", value)
    if not 0.01 <= number <= 255:
        raise _error("DEFAULT", "ha_vrrp_advert_int", value, "must be between 0.01 and 255 seconds")
    return number


def from_parser(parser: configparser.ConfigParser, state_dir: Path | None = None) -> Config:
    """Build a validated :class:`Config` from a parsed ini file; ``state_dir`` overrides the file's."""
    get = parser.get
    drivers = parse_types("ml2", "type_drivers", get("ml2", "type_drivers", fallback="flat,vlan,vxlan"))
    bind_host, bind_port = _parse_bind(get("DEFAULT", "bind", fallback="127.0.0.1:9696"))
    return Config(
        state_dir=state_dir or Path(get("DEFAULT", "state_dir", fallback="/var/lib/floatnet")),
        auth_strategy=_choice(
            "DEFAULT", "auth_strategy", get("DEFAULT", "auth_strategy", fallback="noauth"), ("noauth", "keystone")
        ),
        bind_host=bind_host,
        bind_port=bind_port,
        allow_insecure_noauth_on_network=_default_bool(parser, "allow_insecure_noauth_on_network", "false"),
        max_subnet_host_routes=_limit(parser, "max_subnet_host_routes", 20),
        max_dns_nameservers=_limit(parser, "max_dns_nameservers", 5),
        max_fixed_ips_per_port=_limit(parser, "max_fixed_ips_per_port", 5),
        allow_automatic_l3agent_failover=_default_bool(parser, "allow_automatic_l3agent_failover", "false"),
        allow_automatic_dhcp_failover=_default_bool(parser, "allow_automatic_dhcp_failover", "true"),
        dhcp_agents_per_network=_agents_per_network(parser),
        l3_ha=_default_bool(parser, "l3_ha", "false"),
        max_l3_agents_per_router=_limit(parser, "max_l3_agents_per_router", 3),
        l3_ha_net_cidr=_ha_cidr(get("DEFAULT", "l3_ha_net_cidr", fallback="169.254.192.0/18")),
        ha_vrrp_advert_int=_advert_int(get("DEFAULT", "ha_vrrp_advert_int", fallback="2")),
        quota_overrides=_quota_overrides(parser),
        database_connection=get("database", "connection", fallback=""),
        type_drivers=drivers,
        tenant_network_types=_tenant_types(parser, drivers),
        flat_networks=_split(get("ml2_type_flat", "flat_networks", fallback="*")),
        vlan_ranges=parse_vlan_ranges(get("ml2_type_vlan", "network_vlan_ranges", fallback="")),
        vni_ranges=parse_vni_ranges(get("ml2_type_vxlan", "vni_ranges", fallback="")),
        bridge_mappings=parse_mappings("ovs", "bridge_mappings", get("ovs", "bridge_mappings", fallback="")),
        physical_interfaces=parse_mappings(
            "ovs", "physical_interfaces", get("ovs", "physical_interfaces", fallback="")
        ),
        datapath_type=_choice(
            "ovs", "datapath_type", get("ovs", "datapath_type", fallback="auto"), ("auto", "system", "netdev")
        ),
        ovsdb_connection=get("ovs", "ovsdb_connection", fallback=""),
        local_ip=_parse_local_ip(get("ovs", "local_ip", fallback="")),
        host=get("agent", "host", fallback="") or socket.gethostname(),
        upstream_dns=_parse_dns(get("agent", "upstream_dns", fallback="")),
        report_interval=_float("agent", "report_interval", get("agent", "report_interval", fallback="5")),
        availability_zone=_zone(get("agent", "availability_zone", fallback="nova")),
        roles=parse_roles(get("agent", "roles", fallback=",".join(ROLES))),
        ha_conntrackd_enabled=_bool(
            "agent", "ha_conntrackd_enabled", get("agent", "ha_conntrackd_enabled", fallback="false")
        ),
        keystone_authtoken=dict(parser.items("keystone_authtoken")) if parser.has_section("keystone_authtoken") else {},
        policy_file=get("oslo_policy", "policy_file", fallback=""),
    )


def load(path: str | os.PathLike[str] | None = None, state_dir: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate the ini file at ``path`` (none: all defaults).

    Raises :class:`ConfigError` for a missing file or any wrong value.
    """
    parser = configparser.ConfigParser(interpolation=None)
    if path is not None:
        if not Path(path).is_file():
            raise ConfigError(f"configuration file {str(path)!r} does not exist")
        parser.read(path)
    return from_parser(parser, Path(state_dir) if state_dir is not None else None)
