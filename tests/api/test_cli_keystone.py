"""The CLI behind a real Keystone: ``OS_CLOUD`` + clouds.yaml, password auth, the catalog's network endpoint.

A real cloud user's path: no ``--os-url``: openstack.config reads clouds.yaml, keystoneauth gets
a token, the ``network`` endpoint comes from the catalog, and the server (``auth_strategy = keystone``) scopes
what the user sees to their project.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

from tests.conftest import DEFAULT_INI
from tests.keystone_fixture import KeystoneServer


def floatnet(keystone: KeystoneServer, user: str, line: str) -> subprocess.CompletedProcess[str]:
    env = keystone.cli_env(user)
    env.pop("OS_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "floatnet", *line.split()],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_os_cloud_password_auth_and_project_scope(
    keystone: KeystoneServer, live_server_factory: Callable[..., str]
) -> None:
    options = "\n".join(f"{key} = {value}" for key, value in keystone.authtoken_options().items())
    ini = DEFAULT_INI.replace("auth_strategy = noauth", "auth_strategy = keystone")
    url = live_server_factory(f"{ini}\n[keystone_authtoken]\n{options}\n")
    keystone.set_network_endpoint(url)
    created = floatnet(keystone, "alice", "net-create alice_net -f json")
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["project_id"] == keystone.ids["project:alpha"]
    seen_by_bob = floatnet(keystone, "bob", "net-list -f value -c name")
    assert seen_by_bob.returncode == 0, seen_by_bob.stderr
    assert "alice_net" not in seen_by_bob.stdout.split()
    refused = floatnet(keystone, "bob", "net-show alice_net")
    assert (
        refused.returncode == 1
        and refused.stderr.strip() == "Unable to find network with name or id 'alice_net'"
    )
