"""The four simulated health devices and the measurements they take.

Profiles per shared/reference/ble-gatt-health.md: Blood Pressure 0x1810 (§2, with Current
Time like Omron cuffs), Health Thermometer 0x1809 (§3, Date Time 0x2A08 in the service like
A&D), Weight Scale 0x181D (§4, Date Time like A&D scales) and Pulse Oximeter 0x1822 (§5, with
Current Time and RACP for stored spot-checks, as PLXS provides).
"""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal

from simulators.ble import encoding
from simulators.ble.peripheral import P, SimulatedPeripheral

# Feature bits the simulated devices claim (§2.3, §4.2, §5.5).
BP_FEATURES = 0x0007  # body movement, cuff fit, irregular pulse detection
SCALE_FEATURES = 0x01 | 0x04 | (4 << 3) | (3 << 7)  # time stamp, BMI, 0.05 kg, 0.001 m
PLX_SUPPORTED = 0x0001 | 0x0002 | 0x0004 | 0x0008  # status, device status, storage, time
PLX_MEASUREMENT_STATUS_SUPPORT = 0xFE00
PLX_DEVICE_STATUS_SUPPORT = 0x00FFFF


class BloodPressureCuff(SimulatedPeripheral):
    kind = "bp-cuff"
    service = 0x1810
    measurement = 0x2A35
    model = "SIM-BP100"

    def profile_characteristics(self):
        return [
            self.not_readable(0x2A35, P.INDICATE),
            self.not_readable(0x2A36, P.NOTIFY),
            self.characteristic(
                0x2A49, P.READ,
                self.delayed_read(lambda: encoding.blood_pressure_feature(BP_FEATURES),
                                  self.scenario.feature_read_error),
                encrypted=self.scenario.bonding),
        ]

    def record(self, systolic, diastolic, mean, pulse, status: int | None = 0,
               user_id: int | None = 1) -> bytes:
        return encoding.blood_pressure(encoding.BloodPressureRecord(
            systolic, diastolic, mean, pulse_rate=pulse, user_id=user_id, status=status,
            timestamp=self._stamp(),
        ))

    def _stamp(self):
        # An unset clock still sends the field, all zeros ("not known", §1.3).
        return self.device_now() or _UNKNOWN

    async def take(self, rng: random.Random, *, inflate: bool = True) -> bytes:
        """One measurement as a cuff does it: cuff pressure while inflating, then the result."""
        if self.scenario.errors and rng.random() < 0.5:
            payload = rng.choice([
                self.record(None, None, None, None, status=0),  # E-code as NaN (boso, §2.1)
                self.record(Decimal(rng.randint(118, 150)), Decimal(rng.randint(70, 95)),
                            Decimal(100), Decimal(rng.randint(60, 90)),
                            status=encoding.BP_CUFF_LOOSE | encoding.BP_BODY_MOVEMENT),
                self.record(Decimal(132), Decimal(84), Decimal(100), Decimal(91),
                            status=encoding.BP_IRREGULAR_PULSE),
            ])
        else:
            systolic = rng.randint(108, 146)
            diastolic = rng.randint(66, 92)
            payload = self.record(Decimal(systolic), Decimal(diastolic),
                                  Decimal(round((systolic + 2 * diastolic) / 3)),
                                  Decimal(rng.randint(58, 96)))
        if inflate:
            for pressure in range(40, 181, 35):
                await self.notify(0x2A36, encoding.blood_pressure(
                    encoding.BloodPressureRecord(Decimal(pressure), None, None),
                    intermediate=True))
                await asyncio.sleep(0.05)
        await self.measure(payload)
        return payload


class Thermometer(SimulatedPeripheral):
    kind = "thermometer"
    service = 0x1809
    measurement = 0x2A1C
    clock_characteristic = "date-time"
    model = "SIM-TH200"

    def profile_characteristics(self):
        return [
            self.not_readable(0x2A1C, P.INDICATE),
            self.characteristic(0x2A1D, P.READ, self.delayed_read(
                lambda: bytes([3]), self.scenario.feature_read_error),  # ear
                encrypted=self.scenario.bonding),
        ]

    def record(self, celsius) -> bytes:
        return encoding.temperature(encoding.TemperatureRecord(
            celsius, timestamp=self.device_now() or _UNKNOWN))

    async def take(self, rng: random.Random) -> bytes:
        if self.scenario.errors and rng.random() < 0.4:
            payload = self.record("nres")
        else:
            payload = self.record(Decimal(rng.randint(3620, 3790)) / 100)
        await self.measure(payload)
        return payload


class WeightScale(SimulatedPeripheral):
    kind = "scale"
    service = 0x181D
    measurement = 0x2A9D
    clock_characteristic = "date-time"
    model = "SIM-WS300"

    def profile_characteristics(self):
        return [
            self.not_readable(0x2A9D, P.INDICATE),
            self.characteristic(0x2A9E, P.READ, self.delayed_read(
                lambda: encoding.weight_scale_feature(SCALE_FEATURES),
                self.scenario.feature_read_error), encrypted=self.scenario.bonding),
        ]

    def record(self, kg, height_m=None, bmi=None) -> bytes:
        return encoding.weight(encoding.WeightRecord(
            kg, timestamp=self.device_now() or _UNKNOWN, height=height_m, bmi=bmi))

    async def take(self, rng: random.Random) -> bytes:
        if self.scenario.errors and rng.random() < 0.4:
            payload = self.record(None)  # 0xFFFF: measurement unsuccessful
        else:
            kg = Decimal(rng.randint(1100, 2000)) * Decimal("0.05")
            height = Decimal(rng.randint(1550, 1900)) / 1000
            payload = self.record(kg, height, (kg / height / height).quantize(Decimal("0.1")))
        await self.measure(payload)
        return payload


class PulseOximeter(SimulatedPeripheral):
    kind = "oximeter"
    service = 0x1822
    measurement = 0x2A5E
    has_racp = True
    model = "SIM-OX400"

    def profile_characteristics(self):
        return [
            self.not_readable(0x2A5E, P.INDICATE),
            self.not_readable(0x2A5F, P.NOTIFY),
            self.characteristic(0x2A60, P.READ, self.delayed_read(
                lambda: encoding.plx_features(PLX_SUPPORTED, PLX_MEASUREMENT_STATUS_SUPPORT,
                                              PLX_DEVICE_STATUS_SUPPORT),
                self.scenario.feature_read_error), encrypted=self.scenario.bonding),
        ]

    def record(self, spo2, pulse, *, measurement_status=0, device_status=0) -> bytes:
        now = self.device_now()
        return encoding.plx_spot_check(encoding.OximetryRecord(
            spo2, pulse, timestamp=now or _UNKNOWN, measurement_status=measurement_status,
            device_status=device_status, clock_not_set=now is None))

    async def stream(self, rng: random.Random) -> None:
        await self.notify(0x2A5F, encoding.plx_continuous(encoding.OximetryRecord(
            Decimal(rng.randint(95, 99)), Decimal(rng.randint(62, 88)))))

    async def take(self, rng: random.Random) -> bytes:
        if self.scenario.errors and rng.random() < 0.4:
            payload = self.record(None, None, device_status=encoding.PLX_SENSOR_DISCONNECTED)
        else:
            payload = self.record(Decimal(rng.randint(94, 99)), Decimal(rng.randint(60, 95)))
        await self.measure(payload)
        return payload

_UNKNOWN = encoding.CLOCK_UNSET

KINDS: dict[str, type[SimulatedPeripheral]] = {
    cls.kind: cls for cls in (BloodPressureCuff, Thermometer, WeightScale, PulseOximeter)
}
