"""An extra TCP listener inside a lab instance (``floatnet demo`` opens TCP 8080 that no rule admits).

The listener is the lab's whoami server on another port, recorded among the instance's processes, so
``lab instance delete`` and ``lab down`` stop it (by PID, with its marker) like the instance's own servers.
"""

from __future__ import annotations

from floatnet.lab import procs
from floatnet.lab import state as lab_state
from floatnet.lab.context import LabContext
from floatnet.lab.instance import LabError


def ensure(ctx: LabContext, name: str, port: int) -> None:
    """A whoami server on ``0.0.0.0:port`` in instance ``name`` (labelled ``name``); idempotent."""
    state = lab_state.load(ctx.state_dir, ctx.names.prefix)
    inst = state.instances.get(name)
    if inst is None:
        raise LabError(f"no instance {name!r} in lab {ctx.names.prefix!r}")
    key = f"listener-{port}"
    if key in inst.procs and procs.alive(inst.procs[key]):
        return
    marker = f"--whoami 0.0.0.0:{port} --label {name}"
    argv = [ctx.python, "-m", "floatnet.lab.probe", "serve", *marker.split()]
    inst.procs[key] = procs.spawn(procs.in_ns(inst.ns, argv), ctx.log_file(f"{name}-{key}"), marker)
    lab_state.save(ctx.state_dir, state)
