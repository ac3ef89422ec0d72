"""Helpers for tests of floatnet behind the real test Keystone: a keystone-configured live server, the
``openstack`` CLI as a given user, and direct API calls with a user's password-authenticated session.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from tests.conftest import DEFAULT_INI, LiveServer
from tests.keystone_fixture import KeystoneServer

_BESIDE = Path(sys.executable).parent / "openstack"
OPENSTACK = str(_BESIDE) if _BESIDE.exists() else (shutil.which("openstack") or "openstack")


def keystone_ini(keystone: KeystoneServer, policy_file: Path | None = None) -> str:
    """The test server config with ``auth_strategy = keystone`` and its ``[keystone_authtoken]`` section."""
    text = DEFAULT_INI.replace("auth_strategy = noauth", "auth_strategy = keystone")
    text += "\n[keystone_authtoken]\n" + "".join(f"{k} = {v}\n" for k, v in keystone.authtoken_options().items())
    if policy_file is not None:
        text += f"\n[oslo_policy]\npolicy_file = {policy_file}\n"
    return text


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Cloud:
    """floatnet registered as the ``network`` service of the test Keystone."""

    keystone: KeystoneServer
    url: str
    sessions: dict[str, ks_session.Session] = field(default_factory=dict)

    def cli(self, user: str, *args: str) -> CliResult:
        """``openstack ARGS`` as ``user`` with password auth through clouds.yaml."""
        done = subprocess.run(
            [OPENSTACK, *args], env=self.keystone.cli_env(user), capture_output=True, text=True, timeout=180
        )
        return CliResult(done.returncode, done.stdout, done.stderr)

    def ok(self, user: str, *args: str) -> Any:
        """``openstack ARGS -f json`` that must succeed; its parsed output."""
        result = self.cli(user, *args, "-f", "json")
        assert result.returncode == 0, f"openstack {' '.join(args)} as {user}: {result.stderr}"
        return result.json()

    def public_network(self, *subnet_args: str) -> Any:
        """As admin, the flat external network ``public`` on physnet ``public_eth0`` with its subnet
        ``public-sub`` (203.0.113.0/24, plus ``subnet_args``); the network as the CLI shows it.

        Floating-IP tests all need this outside network first, built the way an operator would.
        """
        public = self.ok(
            "admin", "network", "create", "public", "--external",
            "--provider-network-type", "flat", "--provider-physical-network", "public_eth0",
        )  # fmt: skip
        self.ok("admin", "subnet", "create", "public-sub", "--network", public["id"],
                "--subnet-range", "203.0.113.0/24", *subnet_args)  # fmt: skip
        return public

    def many(self, calls: list[tuple[str, tuple[str, ...]]]) -> list[CliResult]:
        """Independent CLI calls, a few at a time (each one is a whole Python start-up)."""
        with ThreadPoolExecutor(max_workers=3) as pool:
            return list(pool.map(lambda call: self.cli(call[0], *call[1]), calls))

    def session(self, user: str) -> ks_session.Session:
        """A keystoneauth session with ``user``'s password auth (the catalog finds floatnet)."""
        if user not in self.sessions:
            self.sessions[user] = ks_session.Session(auth=v3.Password(**self.keystone.credentials(user)))
        return self.sessions[user]

    def api(self, user: str, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        """One Neutron API call as ``user``: the status and the decoded body (None when empty)."""
        response = self.session(user).request(
            "/v2.0" + path,
            method,
            json=body,
            endpoint_filter={"service_type": "network", "interface": "public"},
            raise_exc=False,
        )
        return response.status_code, (response.json() if response.content else None)


def start_cloud(keystone: KeystoneServer, base: Path, policy_file: Path | None = None) -> Iterator[Cloud]:
    """Start a keystone-configured floatnet, point the catalog at it, and stop it afterwards."""
    config = base / "floatnet.ini"
    config.write_text(keystone_ini(keystone, policy_file))
    server = LiveServer(config, base / "state")
    try:
        keystone.set_network_endpoint(server.url)
        yield Cloud(keystone, server.url)
    finally:
        server.stop()
