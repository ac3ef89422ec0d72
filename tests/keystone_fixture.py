"""A real Keystone for tests: PyPI ``keystone`` on SQLite, bootstrapped with ``keystone-manage``, served on
127.0.0.1.

Why real: floatnet must work behind a cloud's Keystone exactly like Neutron, so tests validate tokens through
keystonemiddleware against the genuine identity service and drive floatnet with the ``openstack`` CLI using
plain password auth. Nothing here imitates Keystone.

What :func:`start_keystone` builds, in a temporary directory it owns:

- ``keystone.conf`` (SQLite database, fernet token and credential keys in the directory, cheap bcrypt rounds),
- ``keystone-manage db_sync``, ``fernet_setup``, ``credential_setup`` and ``bootstrap`` (admin user/project,
  ``RegionOne``, the identity endpoint on a free port),
- Keystone's own WSGI application served by a threaded stdlib WSGI server in a child process (this file run
as a
  script: ``python keystone_fixture.py serve CONF PORT``),
- projects ``alpha`` and ``beta`` with one ``member`` user each (``alice``, ``bob``), a ``service`` project
with the
  ``floatnet`` service user (roles ``service`` and ``admin``, as Neutron's service user has), and the
  ``network`` service ``neutron`` whose endpoint :meth:`KeystoneServer.set_network_endpoint` points at a
  floatnet server,
- ``clouds.yaml`` with one cloud per user (``admin``, ``alice``, ``bob``) for the ``openstack`` CLI.

:meth:`KeystoneServer.stop` ends the child by its PID and removes the directory.

Used as a pytest plugin (``-p tests.keystone_fixture`` or ``pytest_plugins``): the session-scoped fixture
``keystone`` starts one Keystone for the whole run.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

REGION = "RegionOne"
ADMIN_PASSWORD = "admin-secret"
USER_PASSWORD = "user-secret"
SERVICE_USER = "floatnet"
SERVICE_PASSWORD = "floatnet-secret"
MEMBERS = {"alice": "alpha", "bob": "beta"}
STARTUP_TIMEOUT = 60.0

KEYSTONE_CONF = """\
[DEFAULT]
log_file = {root}/keystone.log
[database]
connection = sqlite:///{root}/keystone.db
[fernet_tokens]
key_repository = {root}/fernet-keys
[fernet_receipts]
key_repository = {root}/fernet-keys
[credential]
key_repository = {root}/credential-keys
[identity]
password_hash_rounds = 4
[token]
expiration = 7200
"""


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _keystone_manage() -> str:
    beside = Path(sys.executable).parent / "keystone-manage"
    found = str(beside) if beside.exists() else shutil.which("keystone-manage")
    if not found:
        raise RuntimeError("keystone-manage not found: install floatnet's 'keystone' extra")
    return found


@dataclass
class KeystoneServer:
    """A running Keystone: where it listens, who may log in, and how to stop it."""

    root: Path
    port: int
    process: subprocess.Popen[bytes]
    ids: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        """The identity v3 endpoint (``auth_url``)."""
        return f"http://127.0.0.1:{self.port}/v3"

    @property
    def clouds_yaml(self) -> Path:
        return self.root / "clouds.yaml"

    def credentials(self, user: str) -> dict[str, Any]:
        """Password auth for ``admin``, a member (``alice``, ``bob``) or the service user ``floatnet``."""
        passwords = {"admin": ADMIN_PASSWORD, SERVICE_USER: SERVICE_PASSWORD}
        projects = {"admin": "admin", SERVICE_USER: "service", **MEMBERS}
        return {
            "auth_url": self.url,
            "username": user,
            "password": passwords.get(user, USER_PASSWORD),
            "project_name": projects[user],
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        }

    def authtoken_options(self) -> dict[str, str]:
        """A ``[keystone_authtoken]`` section for floatnet, as Neutron's would be."""
        creds = self.credentials(SERVICE_USER)
        return {
            "www_authenticate_uri": self.url,
            "auth_url": self.url,
            "auth_type": "password",
            "username": creds["username"],
            "password": creds["password"],
            "project_name": creds["project_name"],
            "user_domain_name": "Default",
            "project_domain_name": "Default",
            "region_name": REGION,
            "service_token_roles_required": "true",
        }

    def cli_env(self, user: str) -> dict[str, str]:
        """Environment for the ``openstack`` CLI acting as ``user`` (through ``clouds.yaml``)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(OS_CLIENT_CONFIG_FILE=str(self.clouds_yaml), OS_CLOUD=user)
        return env

    def connection(self, user: str = "admin"):  # type: ignore[no-untyped-def]
        """An openstacksdk connection with ``user``'s password auth."""
        import openstack

        return openstack.connect(region_name=REGION, **self.credentials(user))

    def set_network_endpoint(self, url: str) -> None:
        """Point the catalog's ``network`` service at ``url`` (all three interfaces), replacing older
        endpoints."""
        identity = self.connection().identity
        service_id = self.ids["network_service"]
        for endpoint in list(identity.endpoints(service_id=service_id)):
            identity.delete_endpoint(endpoint)
        for interface in ("public", "internal", "admin"):
            identity.create_endpoint(service_id=service_id, interface=interface, url=url, region_id=REGION)

    def stop(self) -> None:
        """End the server process (by its PID) and remove everything under ``root``."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.root, ignore_errors=True)


def _manage(conf: Path, *args: str) -> None:
    result = subprocess.run(
        [_keystone_manage(), "--config-file", str(conf), *args], capture_output=True, text=True, timeout=120
    )
    if result.returncode != 0:
        raise RuntimeError(f"keystone-manage {args[0]} failed ({result.returncode}): {result.stderr[-2000:]}")


def _bootstrap(root: Path, port: int) -> Path:
    """Write keystone.conf and run the four ``keystone-manage`` steps a real deployment runs."""
    conf = root / "keystone.conf"
    conf.write_text(KEYSTONE_CONF.format(root=root))
    user = "root" if os.geteuid() == 0 else str(os.geteuid())
    _manage(conf, "db_sync")
    _manage(conf, "fernet_setup", "--keystone-user", user, "--keystone-group", str(os.getegid()))
    _manage(conf, "credential_setup", "--keystone-user", user, "--keystone-group", str(os.getegid()))
    url = f"http://127.0.0.1:{port}/v3"
    _manage(
        conf, "bootstrap", "--bootstrap-password", ADMIN_PASSWORD, "--bootstrap-region-id", REGION,
        "--bootstrap-admin-url", url, "--bootstrap-public-url", url, "--bootstrap-internal-url", url,
    )  # fmt: skip
    return conf


def _wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"keystone exited with {process.returncode}: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    tail = log.read_text()[-3000:]
    raise RuntimeError(f"keystone did not answer on {url} within {STARTUP_TIMEOUT}s: {tail}")


def _populate(server: KeystoneServer) -> None:
    """Two member projects with one user each, the service project and user, and the network service."""
    identity = server.connection().identity
    roles = {role.name: role for role in identity.roles()}
    if "service" not in roles:
        roles["service"] = identity.create_role(name="service")
    for user_name, project_name in (*MEMBERS.items(), (SERVICE_USER, "service")):
        project = identity.create_project(name=project_name, domain_id="default")
        password = SERVICE_PASSWORD if user_name == SERVICE_USER else USER_PASSWORD
        user = identity.create_user(
            name=user_name, password=password, domain_id="default", default_project_id=project.id
        )
        granted = ("service", "admin") if user_name == SERVICE_USER else ("member",)
        for role_name in granted:
            identity.assign_project_role_to_user(project, user, roles[role_name])
        server.ids[f"project:{project_name}"] = project.id
        server.ids[f"user:{user_name}"] = user.id
    admin_project = identity.find_project("admin")
    server.ids["project:admin"] = admin_project.id
    service = identity.create_service(name="neutron", type="network", description="floatnet")
    server.ids["network_service"] = service.id


def _write_clouds_yaml(server: KeystoneServer) -> None:
    clouds = {
        name: {"auth": server.credentials(name), "region_name": REGION, "identity_api_version": 3}
        for name in ("admin", *MEMBERS)
    }
    server.clouds_yaml.write_text(yaml.safe_dump({"clouds": clouds}))


def start_keystone(parent: Path | None = None) -> KeystoneServer:
    """Bootstrap and serve a Keystone in a new temporary directory; the caller must
    :meth:`~KeystoneServer.stop`."""
    root = Path(tempfile.mkdtemp(prefix="fn-keystone-", dir=parent))
    port = free_port()
    try:
        conf = _bootstrap(root, port)
        log = root / "server.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "serve", str(conf), str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    server = KeystoneServer(root=root, port=port, process=process)
    try:
        _wait_ready(process, server.url, log)
        _populate(server)
        _write_clouds_yaml(server)
    except BaseException:
        server.stop()
        raise
    return server


@pytest.fixture(scope="session")
def keystone() -> Iterator[KeystoneServer]:
    """One real Keystone for the whole test session."""
    server = start_keystone()
    try:
        yield server
    finally:
        server.stop()


def serve(conf: str, port: int) -> None:
    """Serve Keystone's public WSGI application on 127.0.0.1:``port`` with a threaded stdlib server."""
    import socketserver
    from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

    sys.argv = sys.argv[:1]  # keystone parses the command line with oslo.config
    os.environ["OS_KEYSTONE_CONFIG_FILES"] = conf
    from keystone.server import wsgi

    application = wsgi.initialize_public_application()

    class ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
        daemon_threads = True

    class QuietHandler(WSGIRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the stdlib's signature
            """Keystone logs requests itself."""

    httpd = make_server("127.0.0.1", port, application, server_class=ThreadingServer, handler_class=QuietHandler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    httpd.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "serve":
        sys.exit("usage: keystone_fixture.py serve KEYSTONE_CONF PORT")
    serve(sys.argv[2], int(sys.argv[3]))
