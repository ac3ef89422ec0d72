"""floatnet.api — the ASGI app: routes, request parsing, NeutronError rendering, authentication.

This layer's contract (what it may import, what it owns) is in docs/architecture.md, "Layers".
"""
