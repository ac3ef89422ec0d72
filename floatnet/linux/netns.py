"""Network namespaces: create, delete, list, and run code inside one.

:func:`run_in` is how everything that is not netlink-by-name runs in a namespace (libnftables, sysctl files,
raw sockets): a fresh thread ``setns()``-es into the namespace, calls the function, and switches back before
it ends, so the caller's thread never changes namespace. Sockets opened there stay in that namespace for their
whole life, even when used later from another thread — :mod:`floatnet.linux.links` and
:mod:`floatnet.linux.nat` rely on this.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from pyroute2 import netns as _pr_netns

from floatnet.linux.errors import KernelError

NETNS_DIR = "/run/netns"
CLONE_NEWNET = 0x40000000
T = TypeVar("T")
H = TypeVar("H")

_libc = ctypes.CDLL(None, use_errno=True)
_forget_hooks: list[Callable[[str], None]] = []


def path(name: str) -> str:
    """The bind-mount path ``ip netns`` uses for a namespace."""
    if not name or "/" in name or name in (".", ".."):
        raise KernelError("netns", repr(name), "invalid namespace name")
    return os.path.join(NETNS_DIR, name)


def exists(name: str) -> bool:
    """True if the named namespace is mounted under /run/netns."""
    return os.path.exists(path(name))


def inode(name: str) -> int:
    """The namespace's inode: tells a re-created namespace of the same name from the old one."""
    try:
        return os.stat(path(name)).st_ino
    except OSError as exc:
        raise KernelError("netns stat", name, exc) from exc


def ensure(name: str) -> bool:
    """Create the namespace unless it exists (with loopback up); returns True if it was created."""
    if exists(name):
        return False
    path(name)
    try:
        run_in(None, _create_in_thread, name)
    except OSError as exc:
        raise KernelError("netns create", name, exc) from exc
    run_in(name, _loopback_up)
    return True


def _create_in_thread(name: str) -> None:
    """Body of a throwaway thread: unshare a new network namespace and bind-mount it as ``/run/netns/name``.

    pyroute2's ``netns.create`` forks the (multithreaded) agent to do this; ``unshare`` only moves the calling
    thread, so a thread does it without a fork, then returns to its namespace.
    """
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        if _libc.unshare(CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")
        try:
            _pr_netns.attach(name, f"{os.getpid()}/task/{threading.get_native_id()}")
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(path(name))
            raise
        finally:
            _setns(home, "original namespace")
    finally:
        os.close(home)


def _loopback_up() -> None:
    """Bring ``lo`` up: dnsmasq, local NAT (output chain) and ping-to-self need it."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        idx = ipr.link_lookup(ifname="lo")
        if idx:
            ipr.link("set", index=idx[0], state="up")


def delete(name: str) -> bool:
    """Delete the namespace if it exists; returns True if it did. Its devices go with it."""
    for hook in list(_forget_hooks):
        hook(name)
    if not exists(name):
        return False
    try:
        _pr_netns.remove(name)
    except OSError as exc:
        raise KernelError("netns delete", name, exc) from exc
    return True


def kill_processes(name: str) -> int:
    """SIGKILL every process still running inside namespace ``name`` (as ``ip netns pids`` lists them, by PID).

    Teardown's last resort for a namespace about to be deleted: a process left inside would keep it alive.
    Returns how many processes were signalled; a missing namespace or a process already gone is no error.
    """
    proc = subprocess.run(["ip", "netns", "pids", name], capture_output=True, text=True, check=False)
    killed = 0
    for pid in proc.stdout.split():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
            killed += 1
    return killed


def on_forget(hook: Callable[[str], None]) -> None:
    """Register ``hook(name)``, called when a namespace is deleted, so caches holding its sockets let go."""
    _forget_hooks.append(hook)


class Handles(Generic[H]):
    """One open handle per namespace (a libnftables context, a netlink socket bound inside it), shared by the
    callers of a module: reopened when the namespace was re-created under the same name (its inode moved) and
    closed when the namespace is deleted, since a cached handle would keep a deleted namespace alive. ``None``
    is the caller's own namespace. Thread-safe."""

    def __init__(self, open_: Callable[[str | None], H], close: Callable[[H], None]) -> None:
        self._open, self._close = open_, close
        self._handles: dict[str | None, tuple[int, H]] = {}
        self._lock = threading.Lock()
        on_forget(self.drop)

    def get(self, name: str | None) -> H:
        """The handle of ``name``, opened now if there is none or its namespace was re-created."""
        ino = inode(name) if name is not None else 0
        with self._lock:
            found = self._handles.get(name)
            if found is not None and found[0] == ino:
                return found[1]
            if found is not None:
                self._close(found[1])
            handle = self._open(name)
            self._handles[name] = (ino, handle)
            return handle

    def drop(self, name: str | None) -> None:
        """Close and forget the handle of ``name`` (the next :meth:`get` opens a fresh one)."""
        with self._lock:
            found = self._handles.pop(name, None)
        if found is not None:
            self._close(found[1])


def list_names(prefixes: Iterable[str] | None = None) -> list[str]:
    """Sorted names of the mounted namespaces, only those starting with one of ``prefixes`` if given."""
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    wanted = tuple(prefixes) if prefixes is not None else ("",)
    return sorted(n for n in names if n.startswith(wanted))


def _setns(fd: int, what: str) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise KernelError("setns", what, os.strerror(err))


def _call_inside(name: str, fn: Callable[..., T], args: tuple[Any, ...], box: dict[str, Any]) -> None:
    """Thread body: enter ``name``, call ``fn``, come back; the result or exception goes into ``box``."""
    try:
        target = os.open(path(name), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        box["error"] = KernelError("netns open", name, exc)
        return
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target, name)
        try:
            box["value"] = fn(*args)
        except BaseException as exc:  # handed to the caller's thread, re-raised there
            box["error"] = exc
        finally:
            _setns(home, "original namespace")
    except KernelError as exc:
        box["error"] = exc
    finally:
        os.close(target)
        os.close(home)


def _call_here(_name: None, fn: Callable[..., T], args: tuple[Any, ...], box: dict[str, Any]) -> None:
    try:
        box["value"] = fn(*args)
    except BaseException as exc:  # handed to the caller's thread, re-raised there
        box["error"] = exc


def run_in(name: str | None, fn: Callable[..., T], *args: Any) -> T:
    """Call ``fn(*args)`` inside namespace ``name`` (None: the current one) and return its result.

    The call happens in a short-lived thread that ``setns()``-es into the namespace (for None it just runs
    there, which also keeps pyroute2's synchronous API away from a caller's running asyncio loop); exceptions
    raised by ``fn`` propagate to the caller unchanged. A missing namespace raises :class:`KernelError` (never
    created).
    """
    box: dict[str, Any] = {}
    body = _call_inside if name is not None else _call_here
    worker = threading.Thread(target=body, args=(name, fn, args, box), name=f"netns:{name}", daemon=True)
    worker.start()
    worker.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def exec_argv(name: str | None, argv: list[str]) -> list[str]:
    """The argv that runs ``argv`` inside namespace ``name`` (``ip netns exec``), or ``argv`` itself for
    None."""
    if name is None:
        return list(argv)
    path(name)
    return ["ip", "netns", "exec", name, *argv]
