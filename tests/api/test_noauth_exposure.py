"""Issue 20 item 8: ``floatnet server`` refuses noauth on a non-loopback address unless the operator opts in.

The refusals run the real ``floatnet server`` and expect exit 2 before anything listens. The opt-in case binds
``0.0.0.0`` inside a private network namespace (``unshare --net``: only its own loopback exists), so nothing is
ever exposed on the machine's interfaces; the namespace dies with the process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from floatnet.config import Config, ConfigError, check_noauth_exposure, is_loopback
from tests.conftest import DEFAULT_INI, free_port

OPTION = "allow_insecure_noauth_on_network"


def server(tmp_path: Path, ini: str, bind: str) -> subprocess.CompletedProcess[str]:
    config = tmp_path / "floatnet.ini"
    config.write_text(ini)
    cmd = [sys.executable, "-m", "floatnet", "server", "--config", str(config), "--state-dir", str(tmp_path / "s")]
    return subprocess.run([*cmd, "--bind", bind], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("bind", ["0.0.0.0:{port}", "[::]:{port}", "192.0.2.10:{port}", "myhost.example:{port}"])
def test_noauth_on_a_network_address_does_not_start(tmp_path: Path, bind: str) -> None:
    result = server(tmp_path, DEFAULT_INI, bind.format(port=free_port()))
    assert result.returncode == 2, result.stderr
    assert "configuration error" in result.stderr and f"[DEFAULT] {OPTION} = true" in result.stderr
    assert "administrator" in result.stderr
    assert not (tmp_path / "s").exists()  # refused before the database was even created


def test_the_bind_option_of_the_file_is_checked_too(tmp_path: Path) -> None:
    ini = DEFAULT_INI.replace("auth_strategy = noauth", f"auth_strategy = noauth\nbind = 0.0.0.0:{free_port()}")
    config = tmp_path / "floatnet.ini"
    config.write_text(ini)
    result = subprocess.run([sys.executable, "-m", "floatnet", "server", "--config", str(config)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2 and OPTION in result.stderr


def test_a_wrong_opt_in_value_is_a_config_error(tmp_path: Path) -> None:
    ini = DEFAULT_INI.replace("auth_strategy = noauth", f"auth_strategy = noauth\n{OPTION} = perhaps")
    result = server(tmp_path, ini, f"0.0.0.0:{free_port()}")
    assert result.returncode == 2 and f"[DEFAULT] {OPTION} = 'perhaps'" in result.stderr


PROBE = textwrap.dedent(
    """
    import subprocess, sys, time, httpx
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    port = sys.argv[sys.argv.index("--bind") + 1].rsplit(":", 1)[1]
    try:
        for _ in range(300):
            if proc.poll() is not None:
                print("EXITED", proc.returncode, proc.stderr.read())
                break
            try:
                print("STATUS", httpx.get(f"http://127.0.0.1:{port}/v2.0/networks", timeout=1).status_code)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        print("LOG", proc.stderr.read())
    """
)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare")
def test_the_explicit_opt_in_starts_and_still_warns(tmp_path: Path) -> None:
    ini = DEFAULT_INI.replace("auth_strategy = noauth", f"auth_strategy = noauth\n{OPTION} = true")
    config = tmp_path / "floatnet.ini"
    config.write_text(ini)
    argv = [sys.executable, "-m", "floatnet", "server", "--config", str(config), "--state-dir", str(tmp_path / "s")]
    argv += ["--bind", f"0.0.0.0:{free_port()}"]
    result = subprocess.run(["unshare", "--net", sys.executable, "-c", PROBE, *argv],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "STATUS 200" in result.stdout, result.stdout + result.stderr
    assert "NO AUTHENTICATION" in result.stdout


@pytest.mark.parametrize(
    ("config", "refused"),
    [
        (Config(bind_host="127.0.0.1"), False),
        (Config(bind_host="127.0.0.53"), False),
        (Config(bind_host="::1"), False),
        (Config(bind_host="localhost"), False),
        (Config(bind_host="0.0.0.0"), True),
        (Config(bind_host="0.0.0.0", allow_insecure_noauth_on_network=True), False),
        (Config(bind_host="0.0.0.0", auth_strategy="keystone"), False),
    ],
)
def test_check_noauth_exposure(config: Config, refused: bool) -> None:
    assert is_loopback(config.bind_host) == (config.bind_host not in ("0.0.0.0",))
    if refused:
        with pytest.raises(ConfigError, match=OPTION):
            check_noauth_exposure(config)
    else:
        check_noauth_exposure(config)
