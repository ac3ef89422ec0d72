"""floatnet.core — the domain: resources, validation, IPAM, policy, quotas, and the server side of the agent protocol.

This layer's contract (what it may import, what it owns) is in docs/architecture.md, "Layers".
"""
