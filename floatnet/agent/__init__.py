"""floatnet.agent — see ARCHITECTURE.md for this layer's contract."""
