"""``floatnet diagnose`` through the real CLI entry point, with no server: plumbing, format, exit status."""

from __future__ import annotations

import json

import pytest

from floatnet.cli.main import main
from tests.conftest import free_port


def test_unreachable_server_is_the_first_broken_hop(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["diagnose", "203.0.113.101", "--os-url", url, "-f", "json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert doc["subject"] == "203.0.113.101" and doc["ok"] is False
    assert doc["first_failure"] == "api.floatingip"
    first, *rest = doc["checks"]
    assert "cannot connect" in first["reason"] and "floatnet server" in first["fix"]
    assert rest and all(check["status"] == "skipped" for check in rest if check["name"] != "node.root")


def test_text_output_names_the_hop(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["diagnose", "some-floating-ip-id", "--os-url", url]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "diagnose some-floating-ip-id"
    assert lines[1].startswith("FAIL    api.floatingip")
    assert lines[-1].startswith("first broken hop: api.floatingip")


def test_usage_error_without_a_floating_ip(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diagnose"]) == 2
    assert "FLOATING_IP_OR_ID" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--protocol", "tcpp"], "unknown protocol"),
        (["--protocol", "icmp", "--port", "22"], "--port 22 needs"),
        (["--port", "0"], "--port 0 needs"),
        (["--protocol", "tcp", "--from", "upstream"], "not an IP address"),
        (["--from", "203.0.113.1"], "need --protocol"),
    ],
)
def test_traffic_that_cannot_exist_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Refused before any server is asked: the error names the option."""
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["diagnose", "203.0.113.101", "--os-url", url, *args]) != 0
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


@pytest.mark.parametrize(
    ("ref", "source", "message"),
    [
        ("2001:db8:1::5", "203.0.113.1", "give an IPv6 address for an IPv6 instance address"),
        ("203.0.113.101", "2001:db8:ff::1", "give an IPv4 address"),
    ],
)
def test_source_of_the_other_family_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], ref: str, source: str, message: str
) -> None:
    """An IPv6 instance address is reached from an IPv6 source, a floating IP from an IPv4 one."""
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["diagnose", ref, "--os-url", url, "--protocol", "tcp", "--from", source]) != 0
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""

