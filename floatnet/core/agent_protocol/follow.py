"""How one server process learns of the changes other server processes commit, to wake its own long polls.

A commit made through this process wakes its waiters directly (:func:`feed.attach`). For the others':

* **PostgreSQL** — every commit that logged changes sends ``NOTIFY floatnet_changes`` with the hosts they
  concern (:func:`feed.payload`); the :class:`Follower` ``LISTEN``\\s on one dedicated connection and wakes
  those hosts' waiters within milliseconds. Its own notifications (marked with its sender token) are skipped.
  As a safety net (a dropped connection, a lost notification) it also reads ``change_hosts`` past the newest
  seq it knows every ``SAFETY_PERIOD`` seconds and after every reconnection.
* **SQLite** (no notifications) — the same read every ``RECHECK`` second: one indexed query per process,
  whatever the number of waiting polls.

The follower runs only while long polls hold a lease on it (:meth:`Follower.acquire`): a server no agent
polls keeps no connection and no thread. Waiting polls hold no thread and no database connection.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import func, select

from floatnet.core.agent_protocol.feed import CHANNEL, Settings
from floatnet.core.notify import EVERY, ChangeNotifier
from floatnet.db.models import Change, ChangeHost
from floatnet.db.session import Database

log = logging.getLogger(__name__)

RECHECK = 1.0
SAFETY_PERIOD = 30.0
IDLE_EXIT = 5.0  # seconds without a lease before the follower stops


class Follower:
    """Wakes this process's waiters for the changes other processes commit (see the module docstring)."""

    def __init__(self, db: Database, notifier: ChangeNotifier, settings: Settings) -> None:
        self.db = db
        self.notifier = notifier
        self.settings = settings
        self.listens = db.engine.dialect.name == "postgresql"
        self.period = SAFETY_PERIOD if self.listens else RECHECK
        self._lock = threading.Lock()
        self._leases = 0
        self._idle_since = time.monotonic()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self.seen = 0

    def try_acquire(self) -> bool:
        """Take a lease if the follower already runs (no blocking: the event loop may call it)."""
        with self._lock:
            if self._thread is None or not self._ready.is_set():
                return False
            self._leases += 1
            return True

    def acquire(self) -> None:
        """Take a lease, starting the follower and waiting until it listens (blocking: run it in a thread).

        A poll reads the database only after this returns, so a commit after its read is always noticed."""
        with self._lock:
            self._leases += 1
            if self._thread is None:
                self._ready.clear()
                self._thread = threading.Thread(target=self._run, name="floatnet-feed-follower", daemon=True)
                self._thread.start()
        self._ready.wait(10.0)

    def release(self) -> None:
        """Give a lease back (the follower stops ``IDLE_EXIT`` seconds after the last one)."""
        with self._lock:
            self._leases -= 1
            if not self._leases:
                self._idle_since = time.monotonic()

    def _should_stop(self) -> bool:
        with self._lock:
            if self._leases or time.monotonic() - self._idle_since < IDLE_EXIT:
                return False
            self._thread = None
            return True

    def _run(self) -> None:
        while True:
            try:
                if self._follow():
                    return
            except Exception as exc:  # a dropped connection: reconnect and catch up
                log.warning("change feed follower: %s (reconnecting)", exc)
                time.sleep(1.0)

    def _follow(self) -> bool:
        """One connection's life: True when stopped for lack of leases, False to reconnect."""
        connection = self._listen() if self.listens else None
        try:
            self.catch_up(first=not self._ready.is_set())
            self._ready.set()
            checked = time.monotonic()
            while not self._should_stop():
                if connection is None:
                    time.sleep(self.period)
                else:
                    for note in connection.notifies(timeout=1.0):
                        self.on_payload(note.payload)
                if time.monotonic() - checked >= self.period:
                    self.catch_up()
                    checked = time.monotonic()
            return True
        finally:
            if connection is not None:
                connection.close()

    def _listen(self) -> Any:
        """A dedicated autocommit connection that LISTENs on the feed's channel."""
        import psycopg

        url = self.db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        connection = psycopg.connect(url, autocommit=True)
        connection.execute(f"LISTEN {CHANNEL}")
        return connection

    def on_payload(self, text: str) -> None:
        """One notification: wake its hosts unless it came from this process (already woken at its commit)."""
        sender, seq, *hosts = text.split("\n")
        with self._lock:
            self.seen = max(self.seen, int(seq))
        if sender != self.settings.sender:
            self.notifier.notify(hosts or [EVERY])

    def catch_up(self, first: bool = False) -> None:
        """Wake the hosts of every change past the newest seq known (the first call only learns that seq)."""
        if first:
            self.settings.local.clear()
            self.seen = int(self.db.run(lambda s: s.scalar(select(func.max(Change.seq))) or 0, write=False))
            return
        since = self.seen
        rows = self.db.run(
            lambda s: s.execute(select(ChangeHost.seq, ChangeHost.host).where(ChangeHost.seq > since)).all(),
            write=False,
        )
        if not rows:
            return
        local = self.settings.local
        with self._lock:
            self.seen = max(self.seen, max(seq for seq, _host in rows))
        hosts = {host for seq, host in rows if seq not in local}
        local.difference_update({seq for seq, _host in rows})
        if hosts:
            self.notifier.notify(hosts)
