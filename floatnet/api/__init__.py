"""floatnet.api — see ARCHITECTURE.md for this layer's contract."""
