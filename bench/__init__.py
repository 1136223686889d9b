"""Benchmarks that measure RoomVitals against the machine's own limits (see README)."""
