"""floatnet's own Open vSwitch, one namespace per state dir (issue 17), and the lab finding it as the agent does.

Two own OVS instances on one host (two state dirs, or a lab's nodes) each get their ``ovs-netdev`` device in a
namespace of their own, so stopping one never removes the other's; running daemons are adopted in the
namespace they were started in; ``floatnet lab up`` after the agent started its own OVS plugs into it without
being told where it is (no system OVS, no ``--ovsdb``).
"""

from __future__ import annotations

import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from floatnet.linux import links
from floatnet.linux import netns as fl_netns
from floatnet.linux.ovs import Ovs
from floatnet.linux.ovs_daemon import discover, own_daemons, private_netns
from tests.e2e.fabric import run

INI = """[DEFAULT]
state_dir = {state}
[ml2_type_flat]
flat_networks = public_eth0
[ovs]
bridge_mappings = public_eth0:{prefix}ex
"""


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="floatnet-ownovs-"))
    yield path
    for rundir in path.glob("**/ovs"):
        own_daemons(rundir).stop()
    shutil.rmtree(path, ignore_errors=True)


def _names(ns: str | None) -> set[str]:
    return {link.name for link in links.list_links(ns)}


def test_two_own_ovs_never_share_ovs_netdev(workdir: Path) -> None:
    first, second = own_daemons(workdir / "a" / "ovs"), own_daemons(workdir / "b" / "ovs")
    first.start()
    second.start()
    assert first.netns == private_netns(workdir / "a" / "ovs") != second.netns
    bridge = f"o{secrets.token_hex(2)}br"
    for daemons in (first, second):
        Ovs(daemons.connection).ensure_bridge(bridge, "netdev")
    assert {"ovs-netdev", bridge} <= _names(first.netns) and {"ovs-netdev", bridge} <= _names(second.netns)
    assert bridge not in _names(None)
    assert own_daemons(workdir / "b" / "ovs").netns == second.netns  # running: adopted where it was started
    first.stop()
    assert first.netns is not None and not fl_netns.exists(first.netns)
    assert {"ovs-netdev", bridge} <= _names(second.netns)  # the other instance's devices are untouched


def test_lab_up_uses_the_agents_own_ovs(workdir: Path) -> None:
    prefix = f"o{secrets.token_hex(2)}-"
    state = workdir / "state"
    daemons = own_daemons(state / "ovs")
    daemons.start()  # what the agent does on a host without a system Open vSwitch
    assert discover("", state / "ovs") == (daemons.connection, daemons.netns)
    ini = workdir / "f.ini"
    ini.write_text(INI.format(state=state, prefix=prefix))
    lab = [sys.executable, "-m", "floatnet", "lab", "--config", str(ini), "--prefix", prefix]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOATNET_")} | {"OS_URL": "http://127.0.0.1:9"}
    try:
        run([*lab, "up"], env=env)
        assert f"{prefix}p0" in _names(daemons.netns)
        port_bridge = run(["ovs-vsctl", f"--db={daemons.connection}", "port-to-br", f"{prefix}p0"]).stdout
        assert port_bridge.strip() == f"{prefix}ex"
    finally:
        run([*lab, "down"], env=env, check=False)
        for ns in fl_netns.list_names([prefix]):
            fl_netns.delete(ns)
