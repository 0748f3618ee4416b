"""Trace-oxygen analyzer on the cure oven exhaust, Modbus RTU (RS-485).

O2 in ppm as f32 low word first ("CDAB"), and a status word with the sensor-fail
bit: when it is set the reading must not be used.
"""

from drivers.regmap import Register, RegisterMap
from drivers.spec import modbus_model

STATUS_BITS = {0: "sensor_fail", 1: "calibration_due", 2: "range_over"}

MAP = RegisterMap(
    "o2_analyzer",
    [
        Register("o2_ppm", 0, "f32", "ppm", table="input", order="little"),
        Register("status", 2, "bits", table="input", bits=STATUS_BITS),
        Register("cell_temp_c", 3, "i16", "°C", scale=0.1, table="input"),
    ],
    description="O2 analyzer (ppm)",
    link="modbus-rtu",
)

MODEL = modbus_model(MAP, purge="analyzer")
