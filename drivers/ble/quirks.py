"""Known deviations of real devices from the Bluetooth SIG formats, opt-in per model.

The strict decoders never loosen for a device on their own; a caller that knows the model
passes ``quirks=quirks_for_model(name)`` (or the quirk names directly) to
``drivers.ble.decode``. A quirk only changes the characteristics it is documented for.

``beurer-bm-byte-order`` (Blood Pressure Measurement 0x2A35 only). Beurer BM48, BM85 and
devices advertising "ELITE900" (reference ble-gatt-health.md §11.5; derdilla/
blood-pressure-monitor-fl PRs #735/#737, ``GattBloodPressureProfile.isKnownBigEndianDevice``
tokens ``BM48``, ``BM85``, ``ELITE900``, three BM85 captures in
``ble_measurement_data_test.dart``):

* reserved flag bit 6 is set on every frame; it is ignored (bits 5 and 7 still refuse);
* the Pulse Rate SFLOAT and the Measurement Status uint16 are big-endian;
* a User ID byte follows the pulse rate whether or not flag bit 3 says so;
* Mean Arterial Pressure is sent as 0x0000 (not measured): it decodes to None with the
  data-absent-reason ``unsupported`` instead of 0 mmHg.
"""

from __future__ import annotations

BEURER_BM_BYTE_ORDER = "beurer-bm-byte-order"

QUIRKS: dict[str, str] = {
    BEURER_BM_BYTE_ORDER: (
        "2A35: big-endian pulse rate and status, user ID byte without flag bit 3, "
        "reserved flag bit 6 set, MAP 0 = not measured"
    ),
}

# Advertised-name tokens, matched case-insensitively as substrings (derdilla matches the
# same tokens in the advertised name).
_MODEL_TOKENS: tuple[tuple[str, frozenset[str]], ...] = (
    ("BM48", frozenset({BEURER_BM_BYTE_ORDER})),
    ("BM85", frozenset({BEURER_BM_BYTE_ORDER})),
    ("ELITE900", frozenset({BEURER_BM_BYTE_ORDER})),
)


def quirks_for_model(name: str | None) -> frozenset[str]:
    """The quirks of a device given its advertised name or DIS model number string."""
    if not name:
        return frozenset()
    upper = name.upper()
    found: set[str] = set()
    for token, quirks in _MODEL_TOKENS:
        if token in upper:
            found |= quirks
    return frozenset(found)


def check_quirks(quirks: frozenset[str] | set[str] | tuple[str, ...]) -> frozenset[str]:
    """Refuse a quirk name we do not implement (a typo must not silently decode strictly)."""
    result = frozenset(quirks)
    unknown = result - QUIRKS.keys()
    if unknown:
        raise ValueError(f"unknown BLE quirk(s) {sorted(unknown)}; known: {sorted(QUIRKS)}")
    return result
