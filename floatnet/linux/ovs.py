"""Open vSwitch bridges and ports through ovsdbapp (the OVSDB protocol, no ``ovs-vsctl`` output scraping).

One IDL connection per OVSDB server per process (:func:`connect`), as ovsdbapp intends: it keeps an in-memory
replica of the database, so lookups (``port_tags``, ``ports_by_iface_id``) cost no round trip.
Ports carry ``external_ids:iface-id=<port_id>`` on their Interface row, like a hypervisor's; VLAN networks are
access ports with ``tag``, flat networks untagged.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

# The ``ovs`` package (under ovsdbapp) probes ``from eventlet import patcher`` in ovs/poller.py to learn whether
# select() is monkey-patched; eventlet is installed (oslo.service requires it) and warns on import that it is
# deprecated, on every agent start and even ``floatnet agent --help``. floatnet never uses eventlet: ignore
# exactly that warning, raised from exactly that import, and nothing else.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r"\s*Eventlet is deprecated", module=r"ovs\.poller")
    from ovsdbapp.backend.ovs_idl import connection as _conn
    from ovsdbapp.schema.open_vswitch import impl_idl

from floatnet.linux.errors import KernelError

T = TypeVar("T")
TIMEOUT = 10
DATAPATH_TYPES = ("netdev", "system")

_apis: dict[str, Any] = {}
_lock = threading.Lock()


@dataclass(frozen=True)
class OvsPort:
    """An OVS port as seen in the database: its bridge, access VLAN (None: untagged) and OpenFlow port
    number."""

    name: str
    bridge: str | None
    tag: int | None
    ofport: int | None
    link_state: str | None = None  # the first interface's "up"/"down" as vswitchd last saw its device


def connect(connection: str) -> Any:
    """The process-wide ovsdbapp API object for ``connection`` (``unix:/path/db.sock``), opened on first
    use."""
    with _lock:
        api = _apis.get(connection)
        if api is None:
            try:
                idl = _conn.OvsdbIdl.from_server(connection, "Open_vSwitch")
                api = _backend_class()(_conn.Connection(idl=idl, timeout=TIMEOUT))
            except Exception as exc:  # ovsdbapp raises assorted types for an unreachable server
                raise KernelError("connect", connection, exc) from exc
            _apis[connection] = api
        return api


def _backend_class() -> type:
    """A fresh subclass of ovsdbapp's Open_vSwitch backend for one connection.

    ovsdbapp keeps the backend's connection in a class attribute that is set only once per process, so a second
    OVSDB server (or a restarted one) would silently be served by the first, stale connection; a subclass per
    connection gives each its own slot.
    """
    return type("FloatnetOvsdbIdl", (impl_idl.OvsdbIdl,), {"_ovsdb_connection": None})


def _one(value: Any) -> Any:
    """OVSDB optional columns come back as [] or [x]."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


class Ovs:
    """Bridges and ports of one OVSDB server. Every method is idempotent and raises KernelError on failure."""

    def __init__(self, connection: str) -> None:
        self.connection = connection
        self.api = connect(connection)

    def _do(self, op: str, obj: str, build: Callable[[Any], None]) -> None:
        """Run the commands ``build(txn)`` adds as one OVSDB transaction."""
        try:
            with self.api.transaction(check_error=True) as txn:
                build(txn)
        except KernelError:
            raise
        except Exception as exc:
            raise KernelError(op, obj, exc) from exc

    def _rows(self, table: str) -> list[Any]:
        return list(self.api.tables[table].rows.values())

    def ensure_bridge(self, name: str, datapath_type: str = "netdev") -> None:
        """Create the bridge with ``datapath_type`` (netdev | system), or fix the type of an existing one."""
        if datapath_type not in DATAPATH_TYPES:
            raise KernelError("ensure bridge", name, f"datapath_type must be one of {DATAPATH_TYPES}")

        def build(txn: Any) -> None:
            txn.add(self.api.add_br(name, may_exist=True, datapath_type=datapath_type))
            txn.add(self.api.db_set("Bridge", name, ("datapath_type", datapath_type)))

        self._do("ensure bridge", name, build)

    def delete_bridge(self, name: str) -> None:
        """Delete a bridge and its ports if it exists."""
        self._do("delete bridge", name, lambda txn: txn.add(self.api.del_br(name, if_exists=True)))

    def bridges(self) -> list[str]:
        return sorted(row.name for row in self._rows("Bridge"))

    def ensure_port(
        self,
        bridge: str,
        port: str,
        tag: int | None = None,
        iface_id: str | None = None,
        internal: bool = False,
    ) -> None:
        """Make ``port`` a port of ``bridge`` with this access tag (None: untagged) and iface-id.

        A port found on another bridge is moved. ``internal`` makes OVS create the device itself.
        """
        current = self._port_bridge(port)

        def build(txn: Any) -> None:
            if current is not None and current != bridge:
                txn.add(self.api.del_port(port, if_exists=True))
            attrs = {"type": "internal"} if internal else {}
            txn.add(self.api.add_port(bridge, port, may_exist=current == bridge, **attrs))
            if iface_id is not None:
                txn.add(self.api.db_set("Interface", port, ("external_ids", {"iface-id": iface_id})))
            if tag is not None or current == bridge:  # a port created in this transaction has no tag to clear
                txn.add(self._tag_cmd(port, tag))

        self._do("ensure port", f"{bridge}/{port}", build)

    def _tag_cmd(self, port: str, tag: int | None) -> Any:
        if tag is None:
            return self.api.db_clear("Port", port, "tag")
        if not 0 <= tag <= 4095:
            raise KernelError("set tag", port, f"VLAN tag {tag} out of range")
        return self.api.db_set("Port", port, ("tag", tag))

    def set_tag(self, port: str, tag: int | None) -> None:
        """Set (or with None clear) a port's access VLAN tag."""
        self._do("set tag", port, lambda txn: txn.add(self._tag_cmd(port, tag)))

    def delete_port(self, bridge: str | None, port: str) -> None:
        """Delete a port if it exists (only from ``bridge`` when given)."""
        self._do("delete port", port, lambda txn: txn.add(self.api.del_port(port, bridge=bridge, if_exists=True)))

    def _port_bridge(self, port: str) -> str | None:
        for br in self._rows("Bridge"):
            if any(p.name == port for p in br.ports):
                return str(br.name)
        return None

    def bridge_ports(self, bridge: str) -> list[str]:
        """Names of the bridge's ports, without the bridge's own local port."""
        for br in self._rows("Bridge"):
            if br.name == bridge:
                return sorted(p.name for p in br.ports if p.name != bridge)
        return []

    def port_tags(self) -> dict[str, int | None]:
        """``{port: tag}`` for every port (None: untagged)."""
        return {row.name: _one(row.tag) for row in self._rows("Port")}

    def ports(self) -> dict[str, OvsPort]:
        """Every port by name, with bridge, tag and the first interface's ofport and link state."""
        owner = {p.name: br.name for br in self._rows("Bridge") for p in br.ports}
        out = {}
        for row in self._rows("Port"):
            ofport = _one(row.interfaces[0].ofport) if row.interfaces else None
            link = _one(row.interfaces[0].link_state) if row.interfaces else None
            out[row.name] = OvsPort(row.name, owner.get(row.name), _one(row.tag), ofport, link)
        return out

    def generation(self) -> int:
        """A number that changes whenever the IDL's copy of the database changes (any table): equal numbers
        mean every read above would answer the same (the agent's poll costs nothing while OVS is idle).
        Reconnecting to a restarted server counts as a change."""
        return int(self.api.idl.change_seqno)

    def ports_by_iface_id(self) -> dict[str, OvsPort]:
        """``{iface_id: OvsPort}`` for interfaces carrying ``external_ids:iface-id``."""
        ports = self.ports()
        out = {}
        for row in self._rows("Port"):
            for iface in row.interfaces:
                iface_id = iface.external_ids.get("iface-id")
                if iface_id and row.name in ports:
                    out[iface_id] = ports[row.name]
        return out


def disconnect(connection: str) -> None:
    """Close the process-wide connection to ``connection`` (tests stopping their own OVS call this)."""
    with _lock:
        api = _apis.pop(connection, None)
    if api is not None:
        api.ovsdb_connection.stop()
