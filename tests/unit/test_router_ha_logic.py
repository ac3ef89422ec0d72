"""The pure parts of l3-ha placement and state: the per-router ranking of agents, how many replicas a router
gets, and the ``ha_state`` a replica shows when its agent is dead (Neutron's rule)."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

from floatnet.config import Config
from floatnet.core.resources.router_ha_replicas import ranked, shown_states, target
from floatnet.db.models import utcnow


def agent(alive: bool = True, up: bool = True) -> Any:
    beat = utcnow() - timedelta(seconds=1 if alive else 600)
    return SimpleNamespace(heartbeat_timestamp=beat, admin_state_up=up)


def test_ranking_is_stable_and_per_router() -> None:
    hosts = [f"node-{n}" for n in range(6)]
    assert ranked("r1", hosts) == ranked("r1", list(reversed(hosts)))
    assert len({tuple(ranked(f"r{n}", hosts)[:2]) for n in range(20)}) > 1  # routers spread
    grown = ranked("r1", [*hosts, "node-new"])
    assert [h for h in grown if h != "node-new"] == ranked("r1", hosts)  # a joining host moves nobody else


def test_target_replicas() -> None:
    assert target(Config(max_l3_agents_per_router=3), 5) == 3
    assert target(Config(max_l3_agents_per_router=3), 1) == 1
    assert target(Config(max_l3_agents_per_router=0), 5) == 5


def test_dead_active_shows_standby_while_another_lives_else_unknown() -> None:
    held = [(agent(alive=False), "active", "p1"), (agent(), "standby", "p2")]
    assert shown_states(held, 15) == ["standby", "standby"]
    assert shown_states([(agent(), "active", "p1"), (agent(), "standby", "p2")], 15) == ["active", "standby"]
    every_dead = [(agent(alive=False), "active", "p1"), (agent(alive=False), "standby", "p2")]
    assert shown_states(every_dead, 15) == ["unknown", "standby"]
    assert shown_states([(agent(up=False), "active", "p1"), (agent(), "standby", "p2")], 15)[0] == "standby"
