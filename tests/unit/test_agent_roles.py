"""Which agent rows a node registers for its ``[agent] roles`` (Neutron: which agents run on it)."""

from __future__ import annotations

import pytest

from floatnet.agent.client import agent_types


@pytest.mark.parametrize(
    ("roles", "rows"),
    [
        (("l3", "dhcp", "compute"), ("Open vSwitch agent", "L3 agent", "DHCP agent")),
        (("l3", "dhcp"), ("Open vSwitch agent", "L3 agent", "DHCP agent")),
        (("compute",), ("Open vSwitch agent",)),
        (("dhcp",), ("Open vSwitch agent", "DHCP agent")),
    ],
)
def test_rows_per_role(roles: tuple[str, ...], rows: tuple[str, ...]) -> None:
    assert agent_types(roles) == rows
