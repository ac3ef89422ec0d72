"""floatnet.cli — the command line: the neutron client's verbs over HTTP, plus the node-local verbs.

This layer's contract (what it may import, what it owns) is in docs/architecture.md, "Layers".
"""
