"""floatnet.linux — see ARCHITECTURE.md for this layer's contract."""
