"""floatnet.cli — see ARCHITECTURE.md for this layer's contract."""
