"""The Alembic migrations produce exactly the schema of floatnet.db.models, and upgrading is idempotent."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from floatnet.db.migrate import upgrade
from floatnet.db.models import Base
from floatnet.db.session import Database
from tests.api.migration_checks import check_dhcp_bindings_migration, check_provisioning_blocks_migration


def test_upgrade_head_equals_models(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(db.engine)
    upgrade(db.engine)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    tables = set(inspect(db.engine).get_table_names())
    assert set(Base.metadata.tables) | {"alembic_version"} == tables
    db.dispose()


def test_floatnet_db_upgrade_command(tmp_path: Path) -> None:
    state = tmp_path / "state"
    result = subprocess.run(
        [sys.executable, "-m", "floatnet", "db", "upgrade", "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    db = Database(f"sqlite:///{state / 'floatnet.db'}")
    assert "networks" in inspect(db.engine).get_table_names()
    db.dispose()


def test_server_refuses_bad_config(tmp_path: Path) -> None:
    ini = tmp_path / "bad.ini"
    ini.write_text("[ml2_type_vlan]\nnetwork_vlan_ranges = public_eth1:300:200\n")
    result = subprocess.run(
        [sys.executable, "-m", "floatnet", "server", "--config", str(ini), "--state-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "network_vlan_ranges" in result.stderr and "public_eth1:300:200" in result.stderr


def test_dhcp_bindings_become_slot_one(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    check_dhcp_bindings_migration(db.engine)
    db.dispose()


def test_provisioning_blocks_migration(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    check_provisioning_blocks_migration(db.engine)
    db.dispose()
