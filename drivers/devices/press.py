"""Heated roll press PLC, Modbus TCP.

Top and bottom roll temperature SP/PV (i16 x 0.1 °C), roll load SP/PV (f32 kg,
high word first), nip open/close command, gap, and a status word with the
overload flag.
"""

from drivers.regmap import Register, RegisterMap
from drivers.spec import modbus_model

STATUS_BITS = {
    0: "nip_closed",
    1: "overload",
    2: "top_heater_fault",
    3: "bottom_heater_fault",
    4: "load_at_sp",
}

MAP = RegisterMap(
    "press",
    [
        Register(
            "nip_cmd", 0, "u16", access="rw", min=0, max=1, description="1 = close nip, 0 = open"
        ),
        Register("top_temp_sp_c", 1, "i16", "°C", scale=0.1, access="rw", min=0.0, max=450.0),
        Register("bottom_temp_sp_c", 2, "i16", "°C", scale=0.1, access="rw", min=0.0, max=450.0),
        Register("roll_load_sp_kg", 3, "f32", "kg", access="rw", min=0.0, max=40000.0),
        Register("status", 0, "bits", table="input", bits=STATUS_BITS),
        Register("top_temp_pv_c", 1, "i16", "°C", scale=0.1, table="input"),
        Register("bottom_temp_pv_c", 2, "i16", "°C", scale=0.1, table="input"),
        Register("roll_load_pv_kg", 3, "f32", "kg", table="input"),
        Register(
            "gap_um",
            5,
            "i32",
            "µm",
            table="input",
            order="big",
            description="roll gap; negative under compression of the covers",
        ),
    ],
    description="Heated roll press PLC: roll temperatures, roll load, nip",
    link="modbus-tcp",
)

MODEL = modbus_model(MAP)
