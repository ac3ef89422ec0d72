"""floatnet.db — SQLAlchemy models, the unit of work and Alembic migrations.

This layer's contract (what it may import, what it owns) is in docs/architecture.md, "Layers".
"""
