"""libnftables through ctypes, one context per namespace, with ``nft -j -f -`` as the fallback.

A libnftables context opens its netlink socket when it is created, so a context created inside a namespace
(:func:`floatnet.linux.netns.run_in`) talks to that namespace's nf_tables for its whole life, from any thread.
Contexts are cached per namespace (keyed by the namespace's inode, so a re-created namespace of the same name
gets a fresh one) and dropped when floatnet deletes the namespace: adding one map element then costs a single
netlink round trip, no thread, no process.
"""

from __future__ import annotations

import ctypes
import json
import subprocess
import threading
from typing import Any

from floatnet.linux import netns as _netns
from floatnet.linux.errors import KernelError

OUTPUT_HANDLE = 1 << 3
OUTPUT_JSON = 1 << 4


def _load() -> ctypes.CDLL | None:
    try:
        lib = ctypes.CDLL("libnftables.so.1")
    except OSError:
        return None
    lib.nft_ctx_new.restype = ctypes.c_void_p
    lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
    lib.nft_ctx_free.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_output_set_flags.argtypes = [ctypes.c_void_p, ctypes.c_uint]
    lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
    lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
    lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
    lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
    return lib


_lib = _load()


class NftError(KernelError):
    """An nft command failed; ``detail`` holds nft's own error text."""


class _Context:
    """One libnftables context bound to one namespace; calls are serialised by a lock."""

    def __init__(self, name: str | None) -> None:
        assert _lib is not None
        self.lock = threading.Lock()
        self.ptr = _netns.run_in(name, _lib.nft_ctx_new, 0)
        if not self.ptr:
            raise KernelError("nft_ctx_new", name or "root", "libnftables could not create a context")
        _lib.nft_ctx_output_set_flags(self.ptr, OUTPUT_JSON | OUTPUT_HANDLE)
        _lib.nft_ctx_buffer_output(self.ptr)
        _lib.nft_ctx_buffer_error(self.ptr)

    def run(self, text: str) -> tuple[int, str, str]:
        assert _lib is not None
        with self.lock:
            rc = _lib.nft_run_cmd_from_buffer(self.ptr, text.encode())
            out = (_lib.nft_ctx_get_output_buffer(self.ptr) or b"").decode()
            err = (_lib.nft_ctx_get_error_buffer(self.ptr) or b"").decode()
        return rc, out, err

    def free(self) -> None:
        if _lib is not None and self.ptr:
            with self.lock:
                _lib.nft_ctx_free(self.ptr)
                self.ptr = None


_contexts: _netns.Handles[_Context] = _netns.Handles(_Context, _Context.free)


def _run_tool(netns: str, text: str) -> tuple[int, str, str]:
    argv = _netns.exec_argv(netns, ["nft", "-j", "-a", "-f", "-"])
    try:
        proc = subprocess.run(argv, input=text, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise KernelError("nft", netns, exc) from exc
    return proc.returncode, proc.stdout, proc.stderr


def run(netns: str, command: str | dict[str, Any], what: str = "nft") -> str:
    """Run one nft input (a JSON document ``{"nftables": [...]}`` or nft syntax) in ``netns``; returns output.

    JSON input is one transaction: all of it applies or none does. Raises :class:`NftError` with nft's
    message.
    """
    if not _netns.exists(netns):
        raise KernelError(what, netns, "namespace does not exist")
    text = json.dumps(command) if isinstance(command, dict) else command
    rc, out, err = _contexts.get(netns).run(text) if _lib is not None else _run_tool(netns, text)
    if rc != 0:
        raise NftError(what, netns, err.strip() or f"nft returned {rc}")
    return out


def run_json(netns: str, commands: list[dict[str, Any]], what: str = "nft") -> str:
    """Run a list of JSON commands as one atomic transaction."""
    return run(netns, {"nftables": commands}, what)


def available() -> bool:
    """True if libnftables was loaded (else the ``nft`` tool is used)."""
    return _lib is not None
