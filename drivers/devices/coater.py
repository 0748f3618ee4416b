"""Coater PLC (die / comma coating head with metering pump), Modbus TCP.

Pump flow SP/PV as f32 low word first ("CDAB"), coating gap and width, the PLC's
own wet-thickness estimate, pump speed, pump run and a status word.
"""

from drivers.regmap import Register, RegisterMap
from drivers.spec import modbus_model

STATUS_BITS = {0: "pump_running", 1: "pump_fault", 2: "low_level"}

MAP = RegisterMap(
    "coater",
    [
        Register("pump_run_cmd", 0, "u16", access="rw", min=0, max=1),
        Register(
            "head_down_cmd",
            1,
            "u16",
            access="rw",
            min=0,
            max=1,
            description="1 = coating head engaged on the web",
        ),
        Register(
            "flow_sp_ml_min", 2, "f32", "ml/min", access="rw", order="little", min=0.0, max=500.0
        ),
        Register("coating_gap_um", 4, "u16", "µm", access="rw", min=0, max=2000),
        Register("coating_width_mm", 5, "u16", "mm", scale=0.1, access="rw", min=0, max=1000),
        Register("status", 0, "bits", table="input", bits=STATUS_BITS),
        Register("fault_code", 1, "u16", table="input", description="0 = no fault"),
        Register("flow_pv_ml_min", 2, "f32", "ml/min", table="input", order="little"),
        Register(
            "wet_thickness_um",
            4,
            "f32",
            "µm",
            table="input",
            order="little",
            description="flow ÷ (width x line speed), computed by the PLC",
        ),
        Register("pump_speed_rpm", 6, "u16", "rpm", scale=0.1, table="input"),
    ],
    description="Coater PLC: metering pump flow, gap, width, wet thickness",
    link="modbus-tcp",
)

MODEL = modbus_model(MAP)
