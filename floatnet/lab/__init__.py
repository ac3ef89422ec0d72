"""floatnet.lab — stand-ins for the outside world and for instances (VMs).

The lab builds, with a name prefix it owns, an "upstream" namespace (the physical network's router at
203.0.113.1, an "internet" at 198.51.100.0/24 with a DNS server and a TCP echo/whoami server) wired into the
OVS bridges of the configured physnets through veth pairs, and instance namespaces plugged into those bridges
the way a hypervisor does it (tap device with ``external_ids:iface-id``), each running a DHCP client (and a
DHCPv6 client when its port has a ``dhcpv6-stateful`` address).

It reaches the server over HTTP (:mod:`floatnet.lab.client`) and the kernel through :mod:`floatnet.linux` or
plain tools run in its own namespaces; everything it starts is recorded in a state file so ``lab down`` removes
exactly that.
"""
