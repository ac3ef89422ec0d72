"""The instance's DHCP client: busybox ``udhcpc`` with an event script of ours.

The stock udhcpc/dhclient scripts rewrite the host's ``/etc/resolv.conf``; ours touches only the instance: its
address, default route, MTU and static routes inside the instance's namespace (udhcpc runs there), its DNS
servers in ``/etc/netns/<ns>/resolv.conf`` (what ``ip netns exec`` shows the instance as ``/etc/resolv.conf``;
rewritten in place so an existing bind mount sees the change), and the lease as ``key=value`` lines for the
lab to read. The script learns both paths from the environment udhcpc passes on; it names no other file.
"""

from __future__ import annotations

from pathlib import Path

RESOLV_ENV = "FLOATNET_LAB_RESOLV"
LEASE_ENV = "FLOATNET_LAB_LEASE"

SCRIPT = r"""#!/bin/sh
# floatnet lab: udhcpc event script. Configures only this namespace; writes only $FLOATNET_LAB_RESOLV and
# $FLOATNET_LAB_LEASE (never /etc/resolv.conf).
dev="$interface"
event="$1"
case "$event" in
deconfig)
    ip -4 addr flush dev "$dev"
    ip link set dev "$dev" up
    ;;
bound|renew)
    if ! ip -4 -o addr show dev "$dev" | grep -q " $ip/$mask "; then
        ip -4 addr flush dev "$dev"
        ip addr add "$ip/$mask" dev "$dev"
    fi
    [ -n "${mtu:-}" ] && ip link set dev "$dev" mtu "$mtu"
    gw=""
    for r in ${router:-}; do gw="$r"; break; done
    [ -n "$gw" ] && ip route replace default via "$gw" dev "$dev"
    set -- ${staticroutes:-}
    while [ $# -ge 2 ]; do ip route replace "$1" via "$2" dev "$dev"; shift 2; done
    if [ -n "${FLOATNET_LAB_RESOLV:-}" ]; then
        {
            [ -n "${domain:-}" ] && echo "search $domain"
            for s in ${dns:-}; do echo "nameserver $s"; done
        } > "$FLOATNET_LAB_RESOLV"
    fi
    if [ -n "${FLOATNET_LAB_LEASE:-}" ]; then
        {
            echo "event=$event"
            echo "ip=$ip"
            echo "mask=$mask"
            echo "router=${router:-}"
            echo "dns=${dns:-}"
            echo "domain=${domain:-}"
            echo "hostname=${hostname:-}"
            echo "mtu=${mtu:-}"
            echo "lease=${lease:-}"
            echo "serverid=${serverid:-}"
            echo "staticroutes=${staticroutes:-}"
            echo "time=$(date +%s)"
        } > "$FLOATNET_LAB_LEASE.tmp" && mv "$FLOATNET_LAB_LEASE.tmp" "$FLOATNET_LAB_LEASE"
    fi
    ;;
esac
exit 0
"""


def write_script(path: Path) -> Path:
    """Write the event script (mode 0755) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SCRIPT)
    path.chmod(0o755)
    return path


def argv(script: Path, interface: str, hostname: str) -> list[str]:
    """udhcpc in the foreground (so its PID is ours), retrying forever, renewing as the server says."""
    return ["udhcpc", "-f", "-i", interface, "-s", str(script), "-x", f"hostname:{hostname}", "-t", "5",
            "-T", "1", "-A", "1"]  # fmt: skip


def read_lease(path: Path) -> dict[str, str] | None:
    """The last lease the script recorded (``dns`` space-separated), or None before the first one."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    lease = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            lease[key] = value
    return lease
