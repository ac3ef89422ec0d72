"""PID 1 of a lab node: a private ``/run``, then the node's agent, then reaping until the node loses power.

``nodes.power_on`` starts it as ``ip netns exec <node ns> unshare --mount --pid --fork --mount-proc python -m
floatnet.lab.node_init LOG -- AGENT ARGV…``: inside the node's network namespace, in a mount namespace and a PID
namespace of its own. It mounts a tmpfs on ``/run`` (with an empty ``/run/netns``) so the agent's
``qrouter-<id>``/``qdhcp-<id>`` namespaces — Neutron's names, kept — are bound where only this node sees them,
and no host Open vSwitch socket is found there; then it starts the agent and reaps every orphan (the agent's
OVS daemons, dnsmasq and radvd detach and are re-parented here). Being PID 1 of the node's PID namespace, one
SIGKILL to it makes the kernel kill every process of the node, and with them goes the mount namespace holding
the node's namespaces: a power loss.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time


def main(argv: list[str]) -> int:
    """``LOG -- ARGV…``: set up ``/run``, start ``ARGV`` with its output in ``LOG``, reap forever."""
    log, sep, command = argv[0], argv[1], argv[2:]
    if sep != "--" or not command:
        print("usage: python -m floatnet.lab.node_init LOG -- ARGV...", file=sys.stderr)
        return 2
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "fnnode-run", "/run"], check=True)
    os.makedirs("/run/netns", exist_ok=True)
    with open(log, "ab") as out:
        subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            time.sleep(1)  # nothing to reap until an orphan is re-parented here


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
