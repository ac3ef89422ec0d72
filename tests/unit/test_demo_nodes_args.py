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
