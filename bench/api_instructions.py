"""API cost in CPU instructions: port create (one client) and a list of 1,000 ports, load-independent.

``bench/api.py`` times a real server and swings by ±20 % on a shared machine; this counts the instructions the
in-process app (httpx ``ASGITransport``, SQLite, ``type_drivers = flat,vlan``, ``PYTHONHASHSEED=0``) executes
per request under valgrind's callgrind, with instrumentation switched on (``callgrind_control -i on``) only
around the measured requests, so the figure does not depend on what else the machine runs.

Run: ``.venv/bin/python bench/api_instructions.py [--ref COMMIT] [--creates 300] [--lists 5] [--keep DIR]``.
``--ref`` measures another commit, checked out in a temporary ``git worktree`` and imported from there
(``PYTHONPATH``) with this checkout's virtualenv; ``--keep`` leaves the callgrind files there for
``callgrind_annotate``. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from api import INI  # bench/api.py's configuration (the script's directory is on sys.path)

PHASES = ("port_create", "port_list_1000")
LIST_SIZE = 1000
WARM_UP = 20


def instrument(on: bool, dump: bool = False) -> None:
    """Switch callgrind's instrumentation of this process on or off (and, when ``dump``, write the counts
    collected since the last dump to a file of their own and zero them)."""
    pid = str(os.getpid())
    subprocess.run(["callgrind_control", "-i", "on" if on else "off", pid], check=True, stdout=subprocess.DEVNULL)
    if dump:
        subprocess.run(["callgrind_control", "-d", pid], check=True, stdout=subprocess.DEVNULL)


async def drive(creates: int, lists: int) -> None:
    """The measured session (runs under valgrind): ``creates`` port creates, then ``lists`` lists of 1,000
    ports, each phase instrumented alone and dumped to its own file, in :data:`PHASES` order."""
    import httpx

    from floatnet.api.app import create_app
    from floatnet.config import load

    with tempfile.TemporaryDirectory(prefix="floatnet-instr-") as tmp:
        (Path(tmp) / "bench.ini").write_text(INI)
        config = load(Path(tmp) / "bench.ini", Path(tmp) / "state")
        transport = httpx.ASGITransport(app=create_app(config))
        base = f"http://{config.bind_host}:{config.bind_port}/v2.0"
        async with httpx.AsyncClient(transport=transport, base_url=base) as client:

            async def post(kind: str, **attrs: Any) -> str:
                answer = await client.post(f"/{kind}s", json={kind: attrs})
                assert answer.status_code == 201, answer.text
                return str(answer.json()[kind]["id"])

            await client.put("/quotas/admin", json={"quota": {"network": -1, "subnet": -1, "port": -1}})
            nets = [await post("network", name=name) for name in ("bench", "list")]
            for net, cidr in zip(nets, ("10.128.0.0/16", "10.129.0.0/16"), strict=True):
                await post("subnet", network_id=net, cidr=cidr, ip_version=4, enable_dhcp=False)
            for _ in range(WARM_UP):
                await post("port", network_id=nets[0])
            instrument(True)
            for _ in range(creates):
                await post("port", network_id=nets[0])
            instrument(False, dump=True)
            for _ in range(LIST_SIZE):
                await post("port", network_id=nets[1])
            path = f"/ports?network_id={nets[1]}"
            assert len((await client.get(path)).json()["ports"]) == LIST_SIZE
            instrument(True)
            for _ in range(lists):
                await client.get(path)
            instrument(False, dump=True)


def totals(dump: Path) -> int:
    """The instruction count of one callgrind dump file (its ``totals:`` line; ``summary:`` reads 0 when the
    run started uninstrumented)."""
    for line in dump.read_text().splitlines():
        if line.startswith("totals:"):
            return int(line.split()[1])
    raise SystemExit(f"no totals in {dump}")


def measure(source: Path, creates: int, lists: int, outdir: Path) -> dict[str, Any]:
    """Run :func:`drive` under callgrind with ``floatnet`` imported from ``source``; instructions per call."""
    out = outdir / "callgrind.out"
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(source)}
    cmd = ["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}"]
    cmd += [sys.executable, __file__, "--drive", "--creates", str(creates), "--lists", str(lists)]
    subprocess.run(cmd, env=env, check=True, cwd=source, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    counts = [totals(outdir / f"callgrind.out.{part}") for part in (1, 2)]
    return {
        "port_create": {"count": creates, "instructions_per_call": counts[0] // creates},
        "port_list_1000": {"count": lists, "instructions_per_call": counts[1] // lists},
    }


@contextlib.contextmanager
def checkout(ref: str | None) -> Iterator[tuple[Path, str]]:
    """The tree to measure and its commit: this checkout, or ``ref`` in a temporary detached worktree
    (removed afterwards)."""
    here = Path(__file__).resolve().parent.parent
    if ref is None:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "floatnet"], cwd=here, capture_output=True, text=True)
        yield here, head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
        return
    with tempfile.TemporaryDirectory(prefix="floatnet-ref-") as tmp:
        tree = Path(tmp) / "tree"
        add = ["git", "worktree", "add", "--detach", str(tree), ref]
        subprocess.run(add, cwd=here, check=True, capture_output=True)
        try:
            yield tree, ref
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=here, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--ref", help="measure this commit (a temporary git worktree) instead of the current tree")
    parser.add_argument("--creates", type=int, default=300, help="port creates counted (after 20 not counted)")
    parser.add_argument("--lists", type=int, default=5, help="lists of 1,000 ports counted")
    parser.add_argument("--keep", type=Path, help="leave the callgrind files in this directory")
    parser.add_argument("--drive", action="store_true", help=argparse.SUPPRESS)  # the child run under valgrind
    args = parser.parse_args()
    if args.drive:
        asyncio.run(drive(args.creates, args.lists))
        return
    with checkout(args.ref) as (tree, commit), contextlib.ExitStack() as stack:
        outdir = args.keep or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="floatnet-cg-")))
        outdir.mkdir(parents=True, exist_ok=True)
        result = {"commit": commit, **measure(tree, args.creates, args.lists, outdir)}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
