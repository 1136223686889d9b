"""Acme AS-200 clinic scale: a RoomVitals plug-in (parser, line profile, simulator)."""
