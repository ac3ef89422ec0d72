"""Start-up that explains itself (issue 17): a taken port, a foreign server on the URL, a 401 for the agent,
and no Eventlet warning from a dependency.

Real processes and real listening sockets throughout: ``floatnet up`` against a port another process holds
must stop within 3 s naming the reason and ``--bind``; the readiness check must not take another server's
answer for its own child's; an agent refused with 401 must say what the server expects and which option fixes it.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from floatnet.agent.client import Client, ServerError
from floatnet.cli import supervise
from floatnet.cli.updown import READY_TIMEOUT
from tests.api.test_agent_keystone import _ini as keystone_ini
from tests.keystone_fixture import KeystoneServer


def floatnet(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "floatnet", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port held by a listener that accepts connections but never answers (the worst kind of neighbour)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield int(sock.getsockname()[1])


def _not_waited_out(started: float) -> None:
    """``up`` stopped on its server's exit, not at the end of the readiness wait (``READY_TIMEOUT``, 60 s):
    a functional bound with room for a loaded machine (the speed itself is seconds; no timed test here)."""
    elapsed = time.monotonic() - started
    assert elapsed < READY_TIMEOUT / 4, elapsed


def test_up_detached_stops_at_once_when_the_port_is_taken(tmp_path: Path, taken_port: int) -> None:
    started = time.monotonic()
    done = floatnet("up", "--detach", "--no-agent", "--state-dir", str(tmp_path), "--bind", f"127.0.0.1:{taken_port}")
    assert done.returncode == 1
    _not_waited_out(started)
    assert "did not answer" not in done.stderr, done.stderr
    assert "Address already in use" in done.stderr and "--bind HOST:PORT" in done.stderr, done.stderr
    assert not (tmp_path / "run" / "server.pid").exists()


def test_up_foreground_stops_at_once_when_the_port_is_taken(tmp_path: Path, taken_port: int) -> None:
    started = time.monotonic()
    done = floatnet("up", "--no-agent", "--state-dir", str(tmp_path), "--bind", f"127.0.0.1:{taken_port}")
    assert done.returncode == 1
    _not_waited_out(started)
    assert "Address already in use" in done.stdout and "--bind HOST:PORT" in done.stdout, done.stdout
    assert "exited with status 3 before answering" in done.stderr


def test_server_alone_names_the_taken_address_and_the_fix(tmp_path: Path, taken_port: int) -> None:
    done = floatnet("server", "--state-dir", str(tmp_path), "--bind", f"127.0.0.1:{taken_port}")
    assert done.returncode == 3
    assert f"cannot listen on 127.0.0.1:{taken_port}: Address already in use" in done.stderr
    assert not (tmp_path / "floatnet.sqlite").exists()  # bound before migrating anything


def test_readiness_refuses_another_servers_answer(live_server: str) -> None:
    """A process that is not the server answering on the URL never passes for it, however long it runs."""
    sleeper = subprocess.Popen(["sleep", "30"], text=True)
    try:
        why = supervise.wait_until_own_server(live_server, sleeper, timeout=1.5)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert why is not None and "another server answers there (pid " in why and "not the one just started" in why


def test_agent_refused_with_401_says_what_the_server_expects(
    keystone: KeystoneServer, live_server_factory: Callable[..., str]
) -> None:
    url = live_server_factory(keystone_ini(keystone))
    with pytest.raises(ServerError) as refused:
        Client(url, "node-401", retries=0).register({})
    message = str(refused.value)
    assert refused.value.status == 401
    assert "expects Keystone tokens" in message and "[keystone_authtoken]" in message
    assert "auth_strategy = keystone" in message


def test_agent_help_prints_no_eventlet_warning() -> None:
    done = floatnet("agent", "--help")
    assert done.returncode == 0 and "usage: floatnet agent" in done.stdout
    assert "Eventlet" not in done.stderr and "Warning" not in done.stderr, done.stderr
