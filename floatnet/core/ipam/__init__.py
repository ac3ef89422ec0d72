"""IP address management: allocation pools and race-free allocation of fixed IPs.

See docs/architecture.md for how the rooms of floatnet.core depend on each other."""
