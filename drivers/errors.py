class DecodeError(ValueError):
    """Bytes that break the protocol; the message names the field that failed."""
