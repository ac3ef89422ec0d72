"""The Neutron resources: networks, subnets, ports, routers, floating IPs and what they are made of.

See docs/architecture.md for how the rooms of floatnet.core depend on each other."""
