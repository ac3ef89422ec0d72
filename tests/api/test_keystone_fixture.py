"""The test Keystone is real: the ``openstack`` CLI gets tokens from it with ordinary password auth."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from tests.keystone_fixture import KeystoneServer

OPENSTACK = (
    str(Path(sys.executable).parent / "openstack")
    if (Path(sys.executable).parent / "openstack").exists()
    else (shutil.which("openstack") or "openstack")
)


def openstack(keystone: KeystoneServer, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the ``openstack`` CLI as ``user`` (a cloud of the fixture's clouds.yaml)."""
    return subprocess.run([OPENSTACK, *args], env=keystone.cli_env(user), capture_output=True, text=True, timeout=120)


def test_token_issue_with_password_auth_for_admin_and_members(keystone: KeystoneServer) -> None:
    for user, project in (("admin", "admin"), ("alice", "alpha"), ("bob", "beta")):
        result = openstack(keystone, user, "token", "issue", "-f", "json")
        assert result.returncode == 0, result.stderr
        token = json.loads(result.stdout)
        assert token["project_id"] == keystone.ids[f"project:{project}"]
        assert token["id"]


def test_wrong_password_is_refused(keystone: KeystoneServer) -> None:
    env = keystone.cli_env("alice")
    result = subprocess.run(
        [OPENSTACK, "--os-password", "not-the-password", "token", "issue"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "401" in result.stderr or "authenticate" in result.stderr.lower()


def test_catalog_lists_the_network_service(keystone: KeystoneServer) -> None:
    keystone.set_network_endpoint("http://127.0.0.1:9/")
    result = openstack(keystone, "alice", "catalog", "show", "network", "-f", "json")
    assert result.returncode == 0, result.stderr
    assert "http://127.0.0.1:9/" in result.stdout
