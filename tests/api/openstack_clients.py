"""The unchanged OpenStack clients (openstacksdk and the ``openstack`` CLI) pointed at a noauth floatnet.

Shared by the client-compatibility test modules so that every one drives the clients the same way.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openstack

OPENSTACK = Path(sys.executable).parent / "openstack"


@contextlib.contextmanager
def noauth_sdk(url: str) -> Iterator[Any]:
    """An openstacksdk connection to the Neutron endpoint ``url`` without Keystone; closed afterwards."""
    conn = openstack.connect(auth_type="none", auth={"endpoint": url}, network_api_version="2")
    try:
        yield conn
    finally:
        conn.close()


def openstack_cli(url: str, *args: str) -> Any:
    """Run ``openstack --os-auth-type none --os-endpoint URL ARGS``, which must succeed; its output parsed as
    JSON when it is JSON (``-f json``), else the text as printed.

    The caller's ``OS_*`` variables are dropped so that no real cloud of the developer's leaks in.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    cmd = [str(OPENSTACK), "--os-auth-type", "none", "--os-endpoint", url, *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip().startswith(("{", "[")) else result.stdout
