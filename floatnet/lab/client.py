"""The lab's client of the Neutron API: the shared :class:`floatnet.client.Client` plus a hypervisor's calls.

The lab reaches the server over HTTP only (it never imports the server's code). What it adds to the shared
client is what Nova would ask when it boots or deletes a VM: create a compute port bound to a host, delete it
again (gone already is fine). The benchmarks and the dataplane tests build their topologies with the same
client's ``create`` / ``show`` / ``update`` / ``call``, so there is one Neutron client rather than one per
script. Errors are :class:`floatnet.client.ApiError`.
"""

from __future__ import annotations

from typing import Any

from floatnet.client import ApiError, Client


class LabClient(Client):
    """A Neutron v2.0 endpoint as a hypervisor sees it (``noauth`` or with a fixed token)."""

    def create_port(self, network_id: str, name: str, host: str, device_id: str) -> dict[str, Any]:
        """A compute port bound to ``host`` (what Nova asks for when it boots a VM there)."""
        attrs = {"network_id": network_id, "name": name, "binding:host_id": host,
                 "device_owner": "compute:nova", "device_id": device_id}  # fmt: skip
        return self.create("port", attrs)

    def delete_port(self, port_id: str) -> bool:
        """Delete the port; False if it was already gone."""
        try:
            self.delete("port", port_id)
        except ApiError as exc:
            if exc.status == 404:
                return False
            raise
        return True
