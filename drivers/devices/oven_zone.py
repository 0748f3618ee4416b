"""Single-loop temperature controller, one per oven zone, Modbus RTU (RS-485).

Several zones share one bus, each with its own unit id. PV and SP are i16 x
0.1 °C; output is u16 x 0.1 %; the status word carries sensor break, heater
failure and the deviation alarms.
"""

from drivers.regmap import Register, RegisterMap
from drivers.spec import modbus_model

STATUS_BITS = {
    0: "sensor_break",
    1: "heater_fail",
    2: "alarm_high",
    3: "alarm_low",
    4: "ramping",
    5: "output_on",
}

MAP = RegisterMap(
    "oven_zone",
    [
        Register("temp_sp_c", 0, "i16", "°C", scale=0.1, access="rw", min=0.0, max=500.0),
        Register(
            "ramp_c_per_min",
            1,
            "u16",
            "°C/min",
            scale=0.1,
            access="rw",
            min=0.0,
            max=100.0,
            description="setpoint ramp rate, 0 = step",
        ),
        Register("output_enable", 2, "u16", access="rw", min=0, max=1),
        Register("temp_pv_c", 0, "i16", "°C", scale=0.1, table="input"),
        Register("output_pct", 1, "u16", "%", scale=0.1, table="input"),
        Register("status", 2, "bits", table="input", bits=STATUS_BITS),
        Register(
            "working_sp_c",
            3,
            "i16",
            "°C",
            scale=0.1,
            table="input",
            description="setpoint after the ramp",
        ),
    ],
    description="Oven zone temperature controller",
    link="modbus-rtu",
)

MODEL = modbus_model(MAP)
