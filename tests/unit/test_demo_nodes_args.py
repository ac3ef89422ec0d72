"""``floatnet demo --nodes N``: the options it takes before anything is built."""

from __future__ import annotations

import pytest

from floatnet.cli.main import main


@pytest.mark.parametrize("count", ["0", "-2"])
def test_fewer_than_one_node_is_refused_before_anything_starts(count: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--nodes", count]) == 2
    assert f"--nodes {count}: at least 1 node" in capsys.readouterr().err


def test_nodes_demo_defaults_apart_from_the_single_node_demo() -> None:
    from floatnet.cli.demo import DEFAULT_STATE_DIR, PREFIX, Demo
    from floatnet.cli.demo_nodes import NodesDemo

    assert (NodesDemo.default_state_dir, NodesDemo.default_prefix) != (DEFAULT_STATE_DIR, PREFIX)
    assert (Demo.default_state_dir, Demo.default_prefix) == (DEFAULT_STATE_DIR, PREFIX)


@pytest.mark.parametrize("count", ["1", "2"])
def test_ha_with_fewer_than_three_nodes_is_refused(count: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--nodes", count, "--ha"]) == 2
    assert "--ha needs --nodes 3 or more" in capsys.readouterr().err


def test_the_ha_demo_builds_two_network_nodes_and_the_rest_compute() -> None:
    from floatnet.cli.demo_ha import HA_OPTIONS, HaDemo

    demo = HaDemo.__new__(HaDemo)  # nothing started: only the plan and the ini
    demo.computes = ["compute1", "compute2"]
    assert demo.node_plan() == [("network", "l3,dhcp"), ("network2", "l3"), ("compute1", "compute"),
                                ("compute2", "compute")]  # fmt: skip
    assert "l3_ha = true" in demo.ini("[DEFAULT]\nbind = x\n") and "ha_vrrp_advert_int" in HA_OPTIONS
