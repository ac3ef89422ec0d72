"""An operator's ``[oslo_policy] policy_file`` changes floatnet's answers, behind the real Keystone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.api.keystone_cloud import Cloud, start_cloud
from tests.keystone_fixture import KeystoneServer

POLICY = """\
"create_network:shared": "role:member"
"create_floatingip": "rule:admin_only"
"get_network:provider:network_type": "rule:regular_user"
"""


@pytest.fixture(scope="module")
def cloud(keystone: KeystoneServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    base = tmp_path_factory.mktemp("fn-ks-policy")
    policy_file = base / "policy.yaml"
    policy_file.write_text(POLICY)
    yield from start_cloud(keystone, base, policy_file)


def test_overridden_rules_apply_and_defaults_remain(cloud: Cloud) -> None:
    shared = cloud.ok("alice", "network", "create", "--share", "alice-shared")
    assert shared["shared"] is True
    seen = cloud.api("alice", "GET", f"/networks/{shared['id']}")[1]["network"]
    assert seen["provider:network_type"] == "vlan"
    assert "provider:physical_network" not in seen
    external = cloud.api("alice", "POST", "/networks", {"network": {"name": "x", "router:external": True}})
    assert external[0] == 403
    public = cloud.public_network()
    refused = cloud.cli("alice", "floating", "ip", "create", "public")
    assert refused.returncode != 0
    assert "disallowed by policy" in refused.stderr, refused.stderr
    assert cloud.ok("admin", "floating", "ip", "create", "public")["floating_network_id"] == public["id"]
