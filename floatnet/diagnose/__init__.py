"""``floatnet diagnose``: walk a floating IP's path and name the first broken hop, with its fix.

The checks follow the path an operator walks (the seed's missing troubleshooting section): the API state, the
agent, the router namespace and its addresses, the NAT maps, the way out (default route, OVS ports, uplink,
the upstream gateway's ARP), the way in (instance port and VLAN tag), DHCP/DNS, and stale conntrack entries.

This package reads the server only through its REST API and the kernel only through the operator's tools; it
never imports the server's layers (``api``/``core``/``db``), the agent, nor the shared HTTP client
(``floatnet.client``; see :mod:`floatnet.diagnose.reader`), so it can disagree with them.
"""

from floatnet.diagnose.plan import CHECKS, diagnose

__all__ = ["CHECKS", "diagnose"]
