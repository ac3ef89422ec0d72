"""Quota bookkeeping on a real (temporary) SQLite database: defaults, overrides, counting, OverQuota."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from floatnet.config import Config
from floatnet.core.access import quotas
from floatnet.core.context import RequestContext
from floatnet.core.errors import HTTPBadRequest, OverQuota
from floatnet.db.models import Base, Network, Router
from floatnet.db.session import Database

ALICE = RequestContext(project_id="alpha", roles=("member",))
CONFIG = Config()


@pytest.fixture
def db(tmp_path: Path) -> Iterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'q.db'}")
    Base.metadata.create_all(database.engine)
    yield database
    database.dispose()


def test_defaults_are_neutrons(db: Database) -> None:
    with db.transaction(write=False) as session:
        assert quotas.get(session, CONFIG, "alpha") == {
            "network": 100,
            "subnet": 100,
            "port": 500,
            "router": 10,
            "floatingip": 50,
            "security_group": 10,
            "security_group_rule": 100,
            "rbac_policy": 10,
        }


def test_overrides_apply_to_one_project_and_reset(db: Database) -> None:
    with db.transaction() as session:
        assert quotas.set_limits(session, CONFIG, "alpha", {"router": "2", "network": -1})["router"] == 2
    with db.transaction() as session:
        assert quotas.set_limits(session, CONFIG, "alpha", {"router": 3})["router"] == 3
    with db.transaction(write=False) as session:
        assert quotas.get(session, CONFIG, "alpha")["network"] == -1
        assert quotas.get(session, CONFIG, "beta")["router"] == 10
        assert quotas.projects_with_overrides(session) == ["alpha"]
    with db.transaction() as session:
        quotas.reset(session, "alpha")
    with db.transaction(write=False) as session:
        assert quotas.get(session, CONFIG, "alpha") == quotas.defaults(CONFIG)


@pytest.mark.parametrize("limits", [{"router": "ten"}, {"router": -2}, {"router": True}, {"volumes": 3}])
def test_bad_limits_are_400_and_write_nothing(db: Database, limits: dict[str, object]) -> None:
    with pytest.raises(HTTPBadRequest), db.transaction() as session:
        quotas.set_limits(session, CONFIG, "alpha", {"network": 5, **limits})
    with db.transaction(write=False) as session:
        assert quotas.get(session, CONFIG, "alpha")["network"] == 100


def test_check_counts_the_owner_projects_rows(db: Database) -> None:
    with db.transaction() as session:
        quotas.set_limits(session, CONFIG, "alpha", {"router": 2, "network": 0})
        session.add_all([Router(project_id="alpha"), Router(project_id="beta"), Network(project_id="alpha")])
    with db.transaction() as session:
        quotas.check(session, CONFIG, ALICE, "router")
        with pytest.raises(OverQuota) as raised:
            quotas.check(session, CONFIG, ALICE, "router", count=2)
        assert raised.value.status_code == 409
        assert "router" in raised.value.message
        with pytest.raises(OverQuota):
            quotas.check(session, CONFIG, ALICE, "network")
        quotas.check(session, CONFIG, ALICE, "network", project_id="beta")
        assert quotas.usage(session, "alpha") == {
            "network": 1,
            "subnet": 0,
            "port": 0,
            "router": 1,
            "floatingip": 0,
            "security_group": 0,
            "security_group_rule": 0,
            "rbac_policy": 0,
        }


def test_unlimited(db: Database) -> None:
    with db.transaction() as session:
        quotas.set_limits(session, CONFIG, "alpha", {"floatingip": -1})
        quotas.check(session, CONFIG, ALICE, "floatingip", count=10_000)


def test_check_limit_refuses_limits_below_usage(db: Database) -> None:
    with db.transaction() as session:
        session.add_all([Router(project_id="alpha"), Router(project_id="alpha")])
    with pytest.raises(quotas.InvalidQuotaValue) as raised, db.transaction() as session:
        quotas.set_limits(session, CONFIG, "alpha", {"router": 1, "check_limit": True})
    assert raised.value.status_code == 409 and "['router']" in raised.value.message
    with db.transaction() as session:
        assert quotas.set_limits(session, CONFIG, "alpha", {"router": 1, "check_limit": False})["router"] == 1
        assert quotas.set_limits(session, CONFIG, "alpha", {"router": 2, "check_limit": "true"})["router"] == 2
    with pytest.raises(HTTPBadRequest), db.transaction() as session:
        quotas.set_limits(session, CONFIG, "alpha", {"router": 3, "check_limit": "maybe"})


def test_ini_defaults_replace_neutrons_for_projects_without_limits(db: Database) -> None:
    config = Config(quota_overrides={"router": 1, "floatingip": -1})
    with db.transaction() as session:
        assert quotas.defaults(config)["router"] == 1 and quotas.get(session, config, "alpha")["floatingip"] == -1
        session.add(Router(project_id="alpha"))
    with db.transaction() as session:
        with pytest.raises(OverQuota):
            quotas.check(session, config, ALICE, "router")
        quotas.set_limits(session, config, "alpha", {"router": 2})
        quotas.check(session, config, ALICE, "router")
