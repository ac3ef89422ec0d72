"""A private Open vSwitch for the lab and the demo where the host runs none.

The daemons live (and are found again) in one run directory, ``<state_dir>/ovs``, in a namespace of their own;
the lab finds them exactly as the agent does (:func:`agent_ovs`), so a second ``demo`` adopts them, ``lab up``
after ``floatnet up`` plugs into them, and ``--cleanup`` stops exactly them.
"""

from __future__ import annotations

from pathlib import Path

from floatnet.linux.ovs_daemon import OvsDaemons, discover


def ensure(rundir: Path) -> str:
    """Start (or adopt) ovsdb-server + ovs-vswitchd in ``rundir``; return the OVSDB connection string."""
    daemons = OvsDaemons(rundir)
    daemons.start()
    return daemons.connection


def stop(rundir: Path) -> None:
    """Stop the daemons running from ``rundir`` (by their pidfiles), if any."""
    OvsDaemons(rundir).stop()


def agent_ovs(configured: str, state_dir: Path) -> tuple[str, str | None]:
    """The OVSDB the agent uses and the namespace its vswitchd runs in: the same discovery as the agent
    (:func:`floatnet.linux.ovs_daemon.discover`): the configured one, else the system's if it answers, else
    floatnet's own in ``<state_dir>/ovs`` (in its private namespace)."""
    return discover(configured, state_dir / "ovs")
