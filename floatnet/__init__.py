"""floatnet: a standalone, Neutron-v2.0-compatible network service with a Linux dataplane."""

__version__ = "0.1.0"
