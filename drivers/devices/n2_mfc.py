"""Nitrogen mass-flow controller for the inert ovens, Modbus RTU (RS-485)."""

from drivers.regmap import Register, RegisterMap
from drivers.spec import modbus_model

STATUS_BITS = {0: "valve_open", 1: "flow_deviation", 2: "supply_low"}

MAP = RegisterMap(
    "n2_mfc",
    [
        Register("flow_sp_slm", 0, "f32", "slm", access="rw", min=0.0, max=500.0),
        Register("flow_pv_slm", 0, "f32", "slm", table="input"),
        Register("status", 2, "bits", table="input", bits=STATUS_BITS),
        Register("totalizer_m3", 3, "u32", "m³", scale=0.001, table="input", order="big"),
    ],
    description="N2 mass-flow controller",
    link="modbus-rtu",
)

MODEL = modbus_model(MAP, purge="supply")
