"""Device protocol code, pure: bytes in, typed measurements out; no I/O, no clocks, no threads.

``drivers.ble`` decodes Bluetooth SIG health-profile characteristic values;
``drivers.serial`` holds one incremental parser per serial wire protocol. Both return the
measurement types of ``drivers.measurements``.
"""

from drivers.errors import DecodeError
from drivers.measurements import (
    BloodPressure,
    HeartRate,
    Measurement,
    PulseOximetry,
    Temperature,
    Weight,
)

__all__ = [
    "BloodPressure",
    "DecodeError",
    "HeartRate",
    "Measurement",
    "PulseOximetry",
    "Temperature",
    "Weight",
]
