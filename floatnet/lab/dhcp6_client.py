"""The instance's DHCPv6 client: ISC ``dhclient -6`` with a configuration and an event script of ours.

Started for an instance whose port has an address on a ``dhcpv6-stateful`` subnet, as a cloud image's network
configuration would (Nova's network data says ``ipv6_dhcp`` for such a subnet; SLAAC and stateless addresses
the kernel forms from the router's advertisements by itself). The stock ``dhclient-script`` rewrites the host's
``/etc/resolv.conf``; ours touches only the instance: it waits for the link-local address to leave DAD (dhclient
binds to it, and exits when it cannot), puts the leased address on the interface inside the instance's
namespace (dhclient runs there) as a /128 — the on-link prefix comes from the router's advertisements, as
RFC 8415 has it —, and records the lease as ``key=value`` lines for the lab to read. Everything the client
writes (its lease database, pid file, our record) lives in the lab's state directory, named after the instance,
and goes with it.
"""

from __future__ import annotations

from pathlib import Path

LEASE_ENV = "FLOATNET_LAB_LEASE6"
CONFIG = """# floatnet lab: dhclient -6 of an instance (no host file is read or written)
request dhcp6.name-servers, dhcp6.domain-search;
"""

SCRIPT = r"""#!/bin/sh
# floatnet lab: dhclient -6 event script. Configures only this namespace; writes only $FLOATNET_LAB_LEASE6.
dev="$interface"
case "$reason" in
PREINIT6)
    ip link set dev "$dev" up
    i=0
    while [ $i -lt 50 ] && ip -6 -o addr show dev "$dev" scope link | grep -q tentative; do
        sleep 0.1; i=$((i + 1))
    done
    ;;
BOUND6|RENEW6|REBIND6|REBOOT6)
    if [ -n "${old_ip6_address:-}" ] && [ "$old_ip6_address" != "${new_ip6_address:-}" ]; then
        ip -6 addr del "$old_ip6_address/${old_ip6_prefixlen:-128}" dev "$dev" 2>/dev/null
    fi
    if [ -n "${new_ip6_address:-}" ]; then
        ip -6 addr replace "$new_ip6_address/${new_ip6_prefixlen:-128}" dev "$dev" \
            valid_lft "${new_max_life:-forever}" preferred_lft "${new_preferred_life:-forever}"
    fi
    if [ -n "${FLOATNET_LAB_LEASE6:-}" ]; then
        {
            echo "event=$reason"
            echo "ip=${new_ip6_address:-}"
            echo "prefixlen=${new_ip6_prefixlen:-}"
            echo "dns=${new_dhcp6_name_servers:-}"
            echo "domain=${new_dhcp6_domain_search:-}"
            echo "time=$(date +%s)"
        } > "$FLOATNET_LAB_LEASE6.tmp" && mv "$FLOATNET_LAB_LEASE6.tmp" "$FLOATNET_LAB_LEASE6"
    fi
    ;;
EXPIRE6|RELEASE6|STOP6)
    if [ -n "${old_ip6_address:-}" ]; then
        ip -6 addr del "$old_ip6_address/${old_ip6_prefixlen:-128}" dev "$dev" 2>/dev/null
    fi
    [ -n "${FLOATNET_LAB_LEASE6:-}" ] && rm -f "$FLOATNET_LAB_LEASE6"
    ;;
esac
exit 0
"""


def write_files(files: Path) -> tuple[Path, Path]:
    """Write the configuration and the event script (mode 0755) into ``files``; return both paths."""
    files.mkdir(parents=True, exist_ok=True)
    config, script = files / "dhclient6.conf", files / "dhclient6.sh"
    config.write_text(CONFIG)
    script.write_text(SCRIPT)
    script.chmod(0o755)
    return config, script


def state_files(files: Path, instance: str) -> tuple[Path, Path, Path]:
    """The instance's client files: dhclient's lease database, its pid file, and our lease record."""
    return files / f"{instance}.dhclient6.leases", files / f"{instance}.dhclient6.pid", files / f"{instance}.lease6"


def argv(files: Path, instance: str, interface: str) -> list[str]:
    """``dhclient -6`` in the foreground (so its PID is ours), asking for an address (IA_NA), with a DUID-LL
    from the interface's MAC (dnsmasq finds the port's host entry by that MAC), our files only. dhclient
    gives its script none of its own environment: the record's path goes with ``-e``."""
    config, script = files / "dhclient6.conf", files / "dhclient6.sh"
    leases, pid, record = state_files(files, instance)
    return ["dhclient", "-6", "-d", "-N", "-D", "LL", "-cf", str(config), "-sf", str(script),
            "-lf", str(leases), "-pf", str(pid), "-e", f"{LEASE_ENV}={record}", interface]  # fmt: skip
