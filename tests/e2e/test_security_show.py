"""Issue 13 "show it" on a real deployment: ``floatnet diagnose --protocol/--port`` and the demo's step.

The oracle is traffic from the lab's upstream namespace to the floating IP (:mod:`floatnet.lab.probe` as a
separate process): diagnose's verdict must agree with what really gets through. vm1 starts in its project's
``default`` group only (the seed is built without opening it), so everything from the upstream is dropped at
first.
"""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from floatnet import config as fn_config
from floatnet.cli import demo_security
from floatnet.cli.demo import Demo
from floatnet.lab.context import make_context
from tests.e2e.fabric import Fabric, run, wait_until
from tests.e2e.topology import Seed, build_seed, probe

ECHO = "7"


def diagnose(f: Fabric, address: str, *query: str) -> dict[str, Any]:
    argv = [sys.executable, "-m", "floatnet", "diagnose", address, "-f", "json", *query]
    proc = run(argv, check=False, env=f.env())
    assert proc.returncode in (0, 1), f"diagnose crashed ({proc.returncode}): {proc.stdout}\n{proc.stderr}"
    return dict(json.loads(proc.stdout))


def check_of(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(next(c for c in doc["checks"] if c["name"] == name))


def echo_answers(seed: Seed, address: str) -> bool:
    """Five TCP connects to the echo port from the upstream, each with a round trip: all answered?"""
    code, result = probe(f"{seed.fabric.prefix}upstream", "rate", address, ECHO, "--rate", "5", "--duration", "1")
    return code == 0 and result.get("failures") == 0


@pytest.fixture(scope="module")
def seed(fabric: Fabric) -> Seed:
    """The seed without opening the default group: vm1 is reachable only as its rules say."""
    return build_seed(fabric, open_default=False)


@pytest.fixture(scope="module")
def address(seed: Seed) -> str:
    return str(seed.fips["fip1"]["floating_ip_address"])


@pytest.fixture
def no_echo_rule(seed: Seed) -> Iterator[None]:
    """Whatever rule a test adds for TCP 7 is deleted afterwards (the module's seed is shared)."""
    yield
    for rule in seed.fabric.api("GET", "/security-group-rules", params={"port_range_min": ECHO})[
        "security_group_rules"
    ]:
        seed.fabric.cli("security-group-rule-delete", rule["id"], "-f", "table")


def test_diagnose_names_the_group_and_its_fix_opens_the_port(seed: Seed, address: str, no_echo_rule: None) -> None:
    f = seed.fabric
    doc = diagnose(f, address, "--protocol", "tcp", "--port", ECHO)
    failure = check_of(doc, "security.groups")
    assert doc["first_failure"] == "security.groups", [(c["name"], c["status"], c["reason"]) for c in doc["checks"]]
    assert failure["reason"].startswith("no ingress rule of security group default (id ")
    assert failure["reason"].endswith(f"admits tcp/{ECHO} from 203.0.113.1")
    assert failure["fix"] == (
        f"floatnet security-group-rule-create --direction ingress --protocol tcp --port-range-min {ECHO} "
        f"--port-range-max {ECHO} --remote-ip-prefix 203.0.113.1/32 default"
    )
    assert not echo_answers(seed, address), "diagnose says closed, but the echo port answered the upstream"
    f.cli(*shlex.split(failure["fix"])[1:])  # the operator pastes the fix
    wait_until(lambda: diagnose(f, address, "--protocol", "tcp", "--port", ECHO)["ok"], 10, "diagnose all ok")
    assert check_of(diagnose(f, address, "--protocol", "tcp", "--port", ECHO), "security.filter")["status"] == "ok"
    assert echo_answers(seed, address), "diagnose says open, but the echo port did not answer the upstream"


def test_a_rule_the_agent_has_not_applied_is_the_kernel_hop(seed: Seed, address: str, no_echo_rule: None) -> None:
    f = seed.fabric
    agent = f.procs["agent"]
    agent.send_signal(signal.SIGSTOP)
    try:
        f.cli("security-group-rule-create", "--protocol", "tcp", "--port-range-min", ECHO, "--port-range-max", ECHO,
              "default", "-f", "table")  # fmt: skip
        doc = diagnose(f, address, "--protocol", "tcp", "--port", ECHO)
        assert check_of(doc, "security.groups")["status"] == "ok"
        assert doc["first_failure"] == "security.filter"
        assert "the installed filter of port" in check_of(doc, "security.filter")["reason"]
        assert not echo_answers(seed, address), "diagnose says the kernel drops it, but the echo port answered"
    finally:
        agent.send_signal(signal.SIGCONT)
    wait_until(lambda: diagnose(f, address, "--protocol", "tcp", "--port", ECHO)["ok"], 10, "the agent applies it")


def test_the_demo_step_proves_closed_then_open_then_8080_closed(
    seed: Seed, address: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The real demo's security-group step and then its seed proofs, on this module's deployment."""
    f = seed.fabric
    for key, value in f.env().items():
        if key.startswith(("FLOATNET_", "OS_")):
            monkeypatch.setenv(key, value)
    demo = Demo(argparse.Namespace(state_dir=str(f.workdir / "state"), config=str(f.config_path), prefix=f.prefix,
                                   bind=None))
    cfg = fn_config.load(f.config_path, f.workdir / "state")
    ctx = make_context(cfg, f.url, prefix=f.prefix, ovsdb=f.ovsdb, ovs_netns=f.ovs_netns)
    fip = f.api("GET", f"/floatingips/{seed.fips['fip1']['id']}")["floatingip"]
    demo_security.run(demo, ctx, fip)
    demo.prove(ctx, fip)
    out = capsys.readouterr().out
    assert demo.failures == 0, out
    claims = (
        f"[ok  ] upstream -> {address} ping is dropped",
        f"[ok  ] upstream -> {address}:80 TCP is dropped",
        "$ floatnet security-group-rule-create --direction ingress --protocol icmp default",
        f"[ok  ] upstream -> {address}:8080 stays closed",
        "no ingress rule of security group default",
    )
    for claim in claims:
        assert claim in out, out
