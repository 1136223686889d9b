"""The ``roomvitals`` command: one entry point for the demo, gateway, ingest, web and tools."""
