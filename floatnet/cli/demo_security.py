"""``floatnet demo``'s security-group step (issue 13): closed by default, opened by the operator's rules.

vm1's port has its project's ``default`` group (egress anywhere, ingress only from the group's own members),
so from the upstream a ping and TCP 80 to the floating IP are dropped (proved from the upstream namespace;
``floatnet diagnose … --protocol tcp --port 80`` names the group as the broken hop). The demo then adds the
rules an operator would, with the CLI verbs, proves them within the convergence the agent promises, and proves
that a listener vm1 really runs on TCP 8080 stays closed from the upstream (no rule opens it). On a second
run against a deployment that already has these rules, the "dropped" proofs are skipped (said so). The rules
the demo creates are recorded with its other ids and deleted by its teardown; rules it did not create stay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from floatnet.lab import listener, proofs
from floatnet.lab.context import LabContext

if TYPE_CHECKING:
    from floatnet.cli.demo import Demo

GROUP = "default"
CLOSED_PORT = 8080
CONVERGENCE = 5.0  # seconds a new rule may take to be proven (the target is 100 ms; proofs retry)
# (the key the demo records the rule's id under, what identifies it among the port's rules, the CLI arguments)
RULES: tuple[tuple[str, dict[str, Any], list[str]], ...] = (
    ("sg_rule_icmp", {"protocol": "icmp", "port_range_min": None},
     ["--direction", "ingress", "--protocol", "icmp", GROUP]),
    ("sg_rule_http", {"protocol": "tcp", "port_range_min": 80},
     ["--direction", "ingress", "--protocol", "tcp", "--port-range-min", "80", "--port-range-max", "80",
      "--remote-ip-prefix", "0.0.0.0/0", GROUP]),
)  # fmt: skip
# what cli/demo.py's teardown removes of this step: the rules it created, by recorded id
TEARDOWN = [((key,), (), ["security-group-rule-delete", "{" + key + "}"]) for key, _, _ in RULES]
COLLECTIONS = {key: "security-group-rules" for key, _, _ in RULES}


def _present(demo: Demo, port_id: str) -> list[bool]:
    """Which of RULES the port's groups already hold (an earlier demo run against the same deployment)."""
    port = demo.api(f"/ports/{port_id}")["port"]
    rules = [
        rule for group in port.get("security_groups") or []
        for rule in demo.api("/security-group-rules", security_group_id=group)["security_group_rules"]
        if rule["direction"] == "ingress" and rule["ethertype"] == "IPv4"
    ]  # fmt: skip
    return [any(all(r.get(k) == v for k, v in want.items()) for r in rules) for _, want, _ in RULES]


def _diagnose(demo: Demo, address: str, port: int) -> None:
    """Show what ``floatnet diagnose`` says about TCP ``port``: its verdict line and the fix."""
    proc = demo.kernel_floatnet("diagnose", address, "--protocol", "tcp", "--port", str(port), "--config",
                                str(demo.config_path), check=False)  # fmt: skip
    lines = proc.stdout.splitlines()
    shown = [line.strip() for line in lines if line.startswith("FAIL") or line.strip().startswith("fix:")]
    for line in [*shown[:2], *lines[-1:]]:
        print(f"    {line}")


def run(demo: Demo, ctx: LabContext, fip: dict[str, Any]) -> None:
    """The step, between the floating IP and the seed's proofs (which need ICMP and TCP 80 open): prove
    closed, open with the CLI, prove open and 8080 still closed."""
    up, vm1, address = ctx.names.upstream_ns, ctx.names.instance_ns("vm1"), fip["floating_ip_address"]
    demo.step(f"security groups: vm1 is in its project's '{GROUP}' group, so the outside cannot reach it")
    listener.ensure(ctx, "vm1", CLOSED_PORT)
    demo.check(proofs.eventually(
        lambda: proofs.listening(vm1, CLOSED_PORT, "vm1", f"vm1 listens on TCP {CLOSED_PORT} (from inside vm1)"), 5
    ))  # fmt: skip
    present = _present(demo, str(fip["port_id"]))
    if any(present):
        print("  the rules exist already (an earlier run): the 'dropped before the rules' proofs are skipped")
    else:
        demo.check(proofs.ping_dropped(up, address, f"upstream -> {address} ping is dropped"))
        demo.check(proofs.tcp_dropped(up, address, 80, f"upstream -> {address}:80 TCP is dropped"))
        _diagnose(demo, address, 80)
    demo.step("the operator opens ICMP and TCP 80 in the default group (the neutron verbs)")
    for exists, (key, _, argv) in zip(present, RULES, strict=True):
        if not exists:  # recorded at once, so the demo's teardown deletes exactly these rules (issue 17)
            made = demo.floatnet("security-group-rule-create", *argv, "-f", "value", "-c", "id")
            demo.owned.add(key, made.stdout.strip())
    print(demo.floatnet("security-group-rule-list", show=True).stdout.rstrip())
    demo.check(proofs.eventually(lambda: proofs.ping(up, address, f"upstream -> {address} ping"), CONVERGENCE))
    demo.check(proofs.eventually(
        lambda: proofs.tcp_reaches(up, address, "vm1", f"upstream -> {address}:80 TCP reaches vm1"), CONVERGENCE
    ))  # fmt: skip
    demo.check(proofs.tcp_dropped(
        up, address, CLOSED_PORT, f"upstream -> {address}:{CLOSED_PORT} stays closed (vm1 listens; no rule opens it)"
    ))  # fmt: skip
