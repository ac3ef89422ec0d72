"""A private Open vSwitch for the lab and the demo where the host runs none.

The agent is pointed at it through ``[ovs] ovsdb_connection``; the daemons live (and are found again) in one
run directory, so a second ``demo`` adopts them and ``--cleanup`` stops exactly them.
"""

from __future__ import annotations

from pathlib import Path

from floatnet.linux.ovs_daemon import OvsDaemons


def ensure(rundir: Path) -> str:
    """Start (or adopt) ovsdb-server + ovs-vswitchd in ``rundir``; return the OVSDB connection string."""
    daemons = OvsDaemons(rundir)
    daemons.start()
    return daemons.connection


def stop(rundir: Path) -> None:
    """Stop the daemons running from ``rundir`` (by their pidfiles), if any."""
    OvsDaemons(rundir).stop()


def agent_connection(configured: str, state_dir: Path) -> str:
    """The OVSDB the agent uses (see ``floatnet.agent.main``).

    The configured one, else the system's if it answers, else floatnet's own in ``<state_dir>/ovs``.
    """
    from floatnet.linux.ovs_daemon import system_ovs_connection

    return configured or system_ovs_connection() or OvsDaemons(state_dir / "ovs").connection
