"""The lab's names: every namespace, device and file it creates derives from one prefix.

Linux device names are at most 15 characters, so device names use a short prefix-based form and the physnets
are numbered in the order of ``bridge_mappings`` instead of spelling their (arbitrary-length) names.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "fnlab-"
MAX_DEV = 15
MAX_PREFIX = 8

UPSTREAM_GATEWAY = "203.0.113.1"
UPSTREAM_GATEWAY_CIDR = "203.0.113.1/24"
INTERNET_CIDRS = ("198.51.100.1/24", "198.51.100.53/32", "198.51.100.80/32")
DNS_SERVER = "198.51.100.53"
WEB_SERVER = "198.51.100.80"
# IPv6 (2001:db8::/32, documentation): the upstream router on the external link, the "internet" behind it
UPSTREAM_GATEWAY6 = "2001:db8:ff::1"
UPSTREAM_GATEWAY6_CIDR = "2001:db8:ff::1/64"
WEB_SERVER6 = "2001:db8:100::80"
INTERNET6_CIDRS = ("2001:db8:100::80/128",)
TEST_ZONE = "example.test"
ZONE_RECORDS = {"www.example.test": WEB_SERVER, "dns.example.test": DNS_SERVER}
ECHO_PORT = 7
WHOAMI_PORT = 80
PUSH_PORT = 19  # chargen's port: the instance's server that talks first and on (floatnet.lab.probe --push)
# the multi-node lab (floatnet.lab.nodes): its default prefix, the management network of its nodes
NODES_PREFIX = "fnmn-"
MGMT_NETWORK = "10.99.0.0/24"  # node N is 10.99.0.N, only inside the nodes' namespaces
NODE_PHYSNET_DEV = "eth{index}"  # a node's physnet "NIC", inside its namespace (the seed's eth0/eth1)
NODE_MGMT_DEV = "mgmt0"


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is usable in device names (short, letters/digits/-), else raise ValueError."""
    if not prefix or len(prefix) > MAX_PREFIX:
        raise ValueError(f"lab prefix {prefix!r} must be 1..{MAX_PREFIX} characters")
    if not all(c.isalnum() or c in "-_" for c in prefix):
        raise ValueError(f"lab prefix {prefix!r} may hold only letters, digits, '-' and '_'")
    return prefix


@dataclass(frozen=True)
class LabNames:
    """Names for one lab, all starting with ``prefix``."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        check_prefix(self.prefix)

    @property
    def upstream_ns(self) -> str:
        return f"{self.prefix}upstream"

    def instance_ns(self, name: str) -> str:
        """The namespace of instance ``name`` (``ip netns exec`` accepts long names)."""
        return f"{self.prefix}{name}"

    def physnet_root_dev(self, index: int) -> str:
        """The end of physnet link ``index`` plugged into the OVS bridge (the seed's ``eth1``)."""
        return self._dev(f"p{index}")

    def physnet_peer_dev(self, index: int) -> str:
        """The end of physnet link ``index`` inside the upstream namespace."""
        return self._dev(f"u{index}")

    @property
    def switch_ns(self) -> str:
        """The multi-node lab's switch: one Linux bridge per physnet and one for management."""
        return f"{self.prefix}switch"

    def node_ns(self, node: str) -> str:
        """Node ``node``'s network namespace (its own OVS, physnet NICs and management address)."""
        return f"{self.prefix}node-{node}"

    def node_port_dev(self, index: int, physnet: int | None) -> str:
        """The switch's end of node ``index``'s link on physnet ``physnet`` (None: management)."""
        return self._dev(f"n{index}" + ("m" if physnet is None else f"p{physnet}"))

    def _dev(self, suffix: str) -> str:
        name = f"{self.prefix}{suffix}"
        if len(name) > MAX_DEV:
            raise ValueError(f"device name {name!r} is longer than {MAX_DEV} characters")
        return name

    def owns_ns(self, name: str) -> bool:
        return name.startswith(self.prefix)
