"""Many floating-IP /32s on one gateway device, as the agent's cold sync of a big router needs them: the batched
path of ``links.sync_addresses`` (above ``BATCH_AT`` changes) leaves exactly the wanted set, and fails loudly."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from floatnet.linux import links
from floatnet.linux.errors import KernelError
from tests.dataplane.conftest import dev_name, sh


def _ipv4(ns: str, dev: str) -> set[str]:
    data = json.loads(sh(["ip", "-j", "-4", "addr", "show", "dev", dev], netns=ns))
    return {f"{a['local']}/{a['prefixlen']}" for a in data[0]["addr_info"]}


def test_batched_address_sync_is_exact(make_ns: Callable[[str], str]) -> None:
    ns = make_ns("qg")
    links.ensure_veth(dev_name("qg"), "qg-x", ns, peer_name="qg-x")
    try:
        many = {"203.0.113.10/24"} | {f"10.254.{i // 250}.{i % 250 + 1}/32" for i in range(3 * links.BATCH_AT)}
        changed = links.sync_addresses(ns, "qg-x", many)
        assert len(changed.added) == len(many) and _ipv4(ns, "qg-x") == many
        fewer = set(sorted(many)[: links.BATCH_AT // 2]) | {"203.0.113.10/24"}
        changed = links.sync_addresses(ns, "qg-x", fewer)
        assert changed.removed == frozenset(many - fewer) and _ipv4(ns, "qg-x") == fewer
        assert not links.sync_addresses(ns, "qg-x", fewer)
        with pytest.raises(KernelError):
            links.sync_addresses(ns, "nosuchdev", many)
    finally:
        links.delete_link(dev_name("qg"))
