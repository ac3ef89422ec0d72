"""What ``floatnet demo`` owns: the server it started and the ids of what it created, nothing else.

The demo must never touch anyone else's data. It works only against the server it started itself from its
state dir (``<state_dir>/run/server.pid``, and that process is the one answering the URL: the server names
its PID in ``X-Floatnet-Server-Pid``), and it records every id it creates in ``<state_dir>/demo.json`` as it
creates it. Reuse, proofs and teardown go by those ids, never by name: a foreign network called ``vlan_100``
or a foreign floating IP on the same server is not the demo's, and survives ``--cleanup`` and ``--down``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from floatnet.cli import supervise

RECORD = "demo.json"


class NotOurs(RuntimeError):
    """Something answers on the demo's URL that the demo did not start; the message says what to do."""


@dataclass
class Owned:
    """The ids the demo created, by the seed's names (``vlan_100`` …) plus ``floatingip``; saved on change."""

    path: Path
    ids: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, state_dir: Path) -> Owned:
        path = state_dir / RECORD
        try:
            ids = json.loads(path.read_text())["ids"]
        except (OSError, ValueError, KeyError, TypeError):
            ids = {}
        return cls(path, {str(k): str(v) for k, v in dict(ids).items()})

    def add(self, name: str, resource_id: str) -> None:
        """Record ``name`` -> ``resource_id`` at once (a demo that dies next still knows what it made)."""
        self.ids[name] = resource_id
        self._save()

    def forget(self, name: str) -> None:
        self.ids.pop(name, None)
        self._save()

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps({"ids": self.ids}, indent=2, sort_keys=True) + "\n")
        partial.replace(self.path)


def own_server_pid(state_dir: Path) -> int | None:
    """The PID of the floatnet server the demo started from ``state_dir``, if it still runs."""
    pid = supervise.read_pid(state_dir / "run" / "server.pid")
    return pid if pid is not None and supervise.is_floatnet(pid, "server") else None


def answering(url: str) -> str | None:
    """Who answers ``GET url``: the server's PID (as text), ``""`` for a server that names none, None for
    nobody."""
    try:
        answer = httpx.get(url + "/", timeout=2)
    except httpx.HTTPError:
        return None
    return answer.headers.get(supervise.SERVER_PID_HEADER, "")


def check_ours(url: str, state_dir: Path) -> bool:
    """True if the demo's own server answers on ``url``, False if nobody does; raises :class:`NotOurs` when
    another server answers there (the demo refuses to build into, or clean up, a deployment it did not
    start)."""
    who = answering(url)
    if who is None:
        return False
    own = own_server_pid(state_dir)
    if own is not None and who == str(own):
        return True
    seen = f"pid {who}" if who else "not a floatnet server"
    raise NotOurs(
        f"a server this demo did not start answers on {url} ({seen}); the demo only works in a deployment it "
        f"started itself from {state_dir}: stop that server, or give the demo another address: "
        "floatnet demo --bind HOST:PORT --state-dir DIR"
    )
