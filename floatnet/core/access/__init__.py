"""Who may do what (Neutron's policy in oslo.policy) and how much (quotas).

See docs/architecture.md for how the rooms of floatnet.core depend on each other."""
