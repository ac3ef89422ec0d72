"""floatnet.agent — the node agent: the reconcile loop (desired state → pure plan → apply through linux).

This layer's contract (what it may import, what it owns) is in docs/architecture.md, "Layers".
"""
