"""The agent's client behind Keystone: it authenticates as the ``[keystone_authtoken]`` service user (like
Neutron's agents) and refreshes a token the server refuses; without a token the agent API answers 401."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from floatnet.agent.client import Client, ServerError, keystone_tokens
from tests.conftest import DEFAULT_INI
from tests.keystone_fixture import KeystoneServer


def _ini(keystone: KeystoneServer) -> str:
    section = "".join(f"{k} = {v}\n" for k, v in keystone.authtoken_options().items())
    return (
        DEFAULT_INI.replace("auth_strategy = noauth", "auth_strategy = keystone") + f"\n[keystone_authtoken]\n{section}"
    )


def test_agent_client_uses_the_service_user(keystone: KeystoneServer, live_server_factory: Callable[..., str]) -> None:
    url = live_server_factory(_ini(keystone))
    tokens = keystone_tokens(keystone.authtoken_options())
    client = Client(url, "node-ks", tokens=tokens)
    client.register({"bridge_mappings": {}})
    assert client.state()["host"] == "node-ks"
    stale = {"used": False}

    def revoked_first(refresh: bool) -> str:  # the first token is garbage: the client must refresh once
        if not stale["used"] and not refresh:
            stale["used"] = True
            return "not-a-token"
        return tokens(refresh)

    assert Client(url, "node-ks", tokens=revoked_first).state()["host"] == "node-ks" and stale["used"]
    with pytest.raises(ServerError) as refused:
        Client(url, "node-ks", retries=0).state()
    assert refused.value.status == 401
