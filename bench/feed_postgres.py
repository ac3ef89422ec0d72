"""A private PostgreSQL cluster for ``bench/feed_scale.py --database postgresql`` (several servers, one database).

As the tests' ``postgres_url`` fixture does: ``initdb`` in a temp dir as the ``postgres`` system user (the server
refuses root), TCP on 127.0.0.1 with trust auth and ``fsync=off`` (a benchmark, not a store), stopped by
``pg_ctl stop`` and removed afterwards. :func:`database` gives each N a fresh database of its own.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from api import free_port  # bench/api.py

AS_PG = ["runuser", "-u", "postgres", "--"]


def _bindir() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    if not found:
        raise SystemExit("--database postgresql needs the PostgreSQL server binaries (package postgresql)")
    return found[-1].parent


@contextlib.contextmanager
def cluster() -> Iterator[tuple[Path, int]]:
    """A running cluster for the block: its binaries' directory and port."""
    bindir, base, port = _bindir(), Path(tempfile.mkdtemp(prefix="floatnet-feed-scale-pg-")), free_port()
    base.chmod(0o777)
    data = base / "data"
    subprocess.run([*AS_PG, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "floatnet"],
                   check=True, capture_output=True, cwd=base)  # fmt: skip
    options = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    pg_ctl = [*AS_PG, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(base / "log")]
    subprocess.run([*pg_ctl, "-o", options, "-w", "start"], check=True, capture_output=True, timeout=60, cwd=base)
    try:
        yield bindir, port
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "stop"], capture_output=True, timeout=60, cwd=base)
        shutil.rmtree(base, ignore_errors=True)


def database(bindir: Path, port: int, name: str) -> str:
    """Create database ``name`` in the cluster; its SQLAlchemy URL."""
    subprocess.run([*AS_PG, str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "floatnet", name],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    return f"postgresql://floatnet@127.0.0.1:{port}/{name}"
