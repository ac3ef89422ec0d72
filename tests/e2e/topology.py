"""The seed's topology built with the seed's own commands (``floatnet net-create …``), plus lab instances.

Documentation addresses instead of the seed's: VLAN 100 private network 10.0.0.0/24 with DHCP, flat external
network 203.0.113.0/24 with the pool .100–.119 and the upstream gateway .1 (the lab's upstream router).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import Any

from floatnet.lab.probe import __name__ as PROBE_MODULE
from tests.e2e.fabric import PHYSNET_EXT, PHYSNET_VLAN, Fabric, wait_until

PRIVATE_CIDR = "10.0.0.0/24"
PUBLIC_CIDR = "203.0.113.0/24"
UPSTREAM = "198.51.100.80"


@dataclass
class Vm:
    """A lab instance as the tests see it."""

    name: str
    ns: str
    port_id: str
    ip: str
    mac: str


@dataclass
class Seed:
    fabric: Fabric
    private: dict[str, Any]
    private_subnet: dict[str, Any]
    public: dict[str, Any]
    public_subnet: dict[str, Any]
    router: dict[str, Any]
    vms: dict[str, Vm] = field(default_factory=dict)
    fips: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def router_ns(self) -> str:
        return f"qrouter-{self.router['id']}"

    def gateway_ip(self) -> str:
        router = self.fabric.api("GET", f"/routers/{self.router['id']}")["router"]
        return str(router["external_gateway_info"]["external_fixed_ips"][0]["ip_address"])


def create_network(
    f: Fabric, name: str, *, vlan: int | None = None, external: bool = False
) -> dict[str, Any]:
    if vlan is not None:
        args = ["--provider:network_type", "vlan", "--provider:physical_network", PHYSNET_VLAN,
                "--provider:segmentation_id", str(vlan)]  # fmt: skip
    else:
        args = ["--provider:network_type", "flat", "--provider:physical_network", PHYSNET_EXT]
    if external:
        args.append("--router:external")
    return dict(f.cli("net-create", *args, name))


def build_seed(f: Fabric, instances: tuple[str, ...] = ("vm1", "vm2"), open_default: bool = True) -> Seed:
    """Steps 1–7 of the seed, then instances and a floating IP associated to the first instance.

    With ``open_default`` the project's ``default`` security group admits all IPv4 ingress first (the operator's
    step after "associate a floating IP"): the floating-IP, DHCP and diagnose tests are about NAT and wiring,
    not filtering; tests/e2e/test_security_groups.py builds the seed without it."""
    if open_default:
        f.cli("security-group-rule-create", "--direction", "ingress", "--remote-ip-prefix", "0.0.0.0/0", "default")
    private = create_network(f, "vlan_100", vlan=100)
    private_subnet = f.cli(
        "subnet-create", "--enable-dhcp", "--ip-version", "4", "--name", "vlan_100_subnet01", private["id"],
        PRIVATE_CIDR,
    )  # fmt: skip
    public = create_network(f, "public_net", external=True)
    public_subnet = f.cli(
        "subnet-create", "--name", "public_eth0_subnet01", "--allocation-pool",
        "start=203.0.113.100,end=203.0.113.119", "--gateway", "203.0.113.1", "--disable-dhcp",
        "--ip-version", "4", public["id"], PUBLIC_CIDR,
    )  # fmt: skip
    router = f.cli("router-create", "router1")
    f.cli("router-interface-add", router["id"], private_subnet["id"], "-f", "table")
    f.cli("router-gateway-set", router["id"], public["id"], "-f", "table")
    seed = Seed(f, private, private_subnet, public, public_subnet, router)
    for name in instances:
        add_vm(seed, name, private["id"])
    fip = f.cli("floatingip-create", public["id"])
    f.cli("floatingip-associate", fip["id"], seed.vms[instances[0]].port_id, "-f", "table")
    seed.fips["fip1"] = fip
    wait_fip_status(f, fip["id"], "ACTIVE")
    return seed


def add_vm(seed: Seed, name: str, network_id: str) -> Vm:
    """``floatnet lab instance create`` (waits for the DHCP lease) and what the tests need to know of it."""
    f = seed.fabric
    f.lab("instance", "create", name, "--network", network_id)
    lease = json.loads(f.lab("lease", name).stdout)
    port = f.api("GET", "/ports", params={"name": name, "network_id": network_id})["ports"][0]
    vm = Vm(name=name, ns=f"{f.prefix}{name}", port_id=port["id"], ip=lease["ip"], mac=port["mac_address"])
    seed.vms[name] = vm
    return vm


def wait_fip_status(f: Fabric, fip_id: str, status: str, timeout: float = 15.0) -> None:
    def check() -> bool:
        return bool(f.api("GET", f"/floatingips/{fip_id}")["floatingip"]["status"] == status)

    wait_until(check, timeout, f"floating IP {fip_id} {status}")


def in_ns(ns: str, *argv: str, check: bool = False, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run a command inside a namespace (``ip netns exec``), not raising unless ``check``."""
    proc = subprocess.run(["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=timeout,
                          check=False)  # fmt: skip
    if check and proc.returncode != 0:
        raise AssertionError(f"{argv} in {ns} failed: {proc.stdout}{proc.stderr}")
    return proc


def probe_argv(*args: str) -> list[str]:
    import sys

    return [sys.executable, "-m", PROBE_MODULE, *args]


def probe(ns: str, *args: str, timeout: float = 60) -> tuple[int, dict[str, Any]]:
    """Run :mod:`floatnet.lab.probe` in ``ns``; its exit status and JSON result."""
    proc = in_ns(ns, *probe_argv(*args), timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    return proc.returncode, (json.loads(lines[-1]) if lines else {"error": proc.stderr})


def whoami(ns: str, host: str, timeout: float = 2.0) -> dict[str, Any] | None:
    """Who answers on ``host``:80 as seen from ``ns`` (``{"peer", "server"}``), or None if nobody does."""
    code, result = probe(ns, "get", host, "80", "--timeout", str(timeout))
    return result if code == 0 else None


def ping(ns: str, ip: str, count: int = 2, wait: float = 1.0) -> bool:
    return in_ns(ns, "ping", "-c", str(count), "-W", str(wait), "-i", "0.2", ip).returncode == 0
