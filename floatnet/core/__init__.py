"""floatnet.core — see ARCHITECTURE.md for this layer's contract."""
