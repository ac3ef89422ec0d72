"""The per-host change notifier (issue 16): a change wakes only the waiters of the hosts it concerns."""

from __future__ import annotations

import asyncio

from floatnet.core.notify import EVERY, ChangeNotifier


def _woken(notifier: ChangeNotifier, hosts: list[str | None], notify: list[str] | None) -> list[bool]:
    """Which of the waiters of ``hosts`` (None: no particular host) wake when ``notify`` is sent."""

    async def scenario() -> list[bool]:
        stamps = [notifier.stamp(host) for host in hosts]
        waits = [asyncio.create_task(notifier.wait(s, 0.2, h)) for s, h in zip(stamps, hosts, strict=True)]
        await asyncio.sleep(0.01)
        notifier.notify(notify)
        return list(await asyncio.gather(*waits))

    return asyncio.run(scenario())


def test_only_the_concerned_hosts_wake() -> None:
    assert _woken(ChangeNotifier(), ["a", "b", None], ["a"]) == [True, False, True]
    assert _woken(ChangeNotifier(), ["a", "b"], []) == [False, False]  # a change that concerns nobody


def test_every_host_and_none_wake_everyone() -> None:
    assert _woken(ChangeNotifier(), ["a", "b"], [EVERY]) == [True, True]
    assert _woken(ChangeNotifier(), ["a", "b"], None) == [True, True]


def test_a_wakeup_before_waiting_is_not_lost() -> None:
    notifier = ChangeNotifier()
    stamp = notifier.stamp("a")
    notifier.notify(["a"])
    assert asyncio.run(notifier.wait(stamp, 1.0, "a")) is True
    other = notifier.stamp("b")
    notifier.notify(["a"])
    assert asyncio.run(notifier.wait(other, 0.05, "b")) is False
