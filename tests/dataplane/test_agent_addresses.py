"""Many floating-IP /32s on one gateway device, as the agent's cold sync of a big router needs them: the batched
path of ``links.sync_addresses`` (above ``BATCH_AT`` changes) leaves exactly the wanted set, and fails loudly."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from floatnet.linux import links, netns
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


def _all(ns: str, dev: str) -> set[str]:
    data = json.loads(sh(["ip", "-j", "addr", "show", "dev", dev], netns=ns))
    return {f"{a['local']}/{a['prefixlen']}" for a in data[0]["addr_info"] if a.get("scope") != "link"}


def test_one_floating_ip_edit_enters_no_namespace_whatever_the_device_holds(
    make_ns: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A floating IP's /32 on a gateway device holding 1,000 others: exact, idempotent, and done on the socket
    kept for the namespace — after the first edit no call enters the namespace again (a thread per call and a
    new IPRoute were the cost of every association on a loaded node)."""
    ns = make_ns("qg1")
    links.ensure_veth(dev_name("qg1"), "qg-y", ns, peer_name="qg-y")
    try:
        many = {f"10.254.{i // 250}.{i % 250 + 1}/32" for i in range(1000)}
        links.sync_addresses(ns, "qg-y", many)
        entered: list[str | None] = []
        run_in = netns.run_in
        monkeypatch.setattr(netns, "run_in", lambda name, *rest: entered.append(name) or run_in(name, *rest))
        assert links.edit_addresses(ns, "qg-y", add={"203.0.113.7/32"}).added == {"203.0.113.7/32"}
        before = len(entered)
        for _ in range(5):
            assert links.edit_addresses(ns, "qg-y", remove={"203.0.113.7/32"}).removed == {"203.0.113.7/32"}
            changed = links.edit_addresses(ns, "qg-y", add={"203.0.113.7/32", "2001:db8::7/128"}, remove={"::9/128"})
            assert changed.added == {"203.0.113.7/32", "2001:db8::7/128"} and not changed.removed
            assert not links.edit_addresses(ns, "qg-y", add={"203.0.113.7/32"})  # already there: nothing done
            assert links.edit_addresses(ns, "qg-y", remove={"2001:db8::7/128"}).removed == {"2001:db8::7/128"}
        assert len(entered) == before
        assert _all(ns, "qg-y") == many | {"203.0.113.7/32"}
        with pytest.raises(KernelError, match="no such device"):
            links.edit_addresses(ns, "nosuchdev", add={"203.0.113.8/32"})
        with pytest.raises(KernelError):
            links.edit_addresses(ns, "qg-y", add={"203.0.113.9/33"})
    finally:
        links.delete_link(dev_name("qg1"))
