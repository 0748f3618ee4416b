"""Line drive PLC (unwind, rewind, web transport), Modbus TCP.

Line speed SP/PV (f32, high word first), unwind and rewind tension SP/PV
(u16 x 0.1 N), web position from the encoder (u32 x 0.001 m, low word first as
many PLCs store 32-bit counters), roll diameters, run/stop and a status word with
the web-break flag. ``position_reset_cmd`` is a self-clearing command (access
``pulse``): sent with ``ModbusDevice.command``, its effect shows in
``web_position_m``.
"""

from drivers.regmap import Register, RegisterMap
from drivers.spec import modbus_model

STATUS_BITS = {0: "running", 1: "at_speed", 2: "web_break", 3: "drive_fault", 4: "estop"}

MAP = RegisterMap(
    "line_drive",
    [
        Register("run_cmd", 0, "u16", access="rw", min=0, max=1, description="1 = run, 0 = stop"),
        Register(
            "position_reset_cmd",
            1,
            "u16",
            access="pulse",
            min=1,
            max=1,
            description="write 1 to zero the web position counter; the PLC clears it",
        ),
        Register("speed_sp_m_min", 2, "f32", "m/min", access="rw", min=0.0, max=20.0),
        Register("unwind_tension_sp_n", 4, "u16", "N", scale=0.1, access="rw", min=0, max=1000),
        Register("rewind_tension_sp_n", 5, "u16", "N", scale=0.1, access="rw", min=0, max=1000),
        Register("status", 0, "bits", table="input", bits=STATUS_BITS),
        Register("fault_code", 1, "u16", table="input", description="0 = no fault"),
        Register("speed_pv_m_min", 2, "f32", "m/min", table="input"),
        Register("unwind_tension_pv_n", 4, "u16", "N", scale=0.1, table="input"),
        Register("rewind_tension_pv_n", 5, "u16", "N", scale=0.1, table="input"),
        Register(
            "web_position_m",
            6,
            "u32",
            "m",
            scale=0.001,
            table="input",
            order="little",
            description="encoder position since the last reset, mm resolution",
        ),
        Register("unwind_diameter_mm", 8, "u16", "mm", scale=0.1, table="input"),
        Register("rewind_diameter_mm", 9, "u16", "mm", scale=0.1, table="input"),
    ],
    description="Line drive PLC: web speed, tensions, web position, roll diameters",
    link="modbus-tcp",
)

MODEL = modbus_model(MAP)
