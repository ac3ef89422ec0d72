"""floatnet.db — see ARCHITECTURE.md for this layer's contract."""
