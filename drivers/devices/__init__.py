"""Register maps of the line's instruments, by model name."""

from drivers.devices import coater, line_drive, n2_mfc, o2_analyzer, oven_zone, press
from drivers.regmap import RegisterMap

MODBUS_MAPS: dict[str, RegisterMap] = {
    m.MAP.model: m.MAP for m in (line_drive, coater, press, oven_zone, n2_mfc, o2_analyzer)
}

# ASCII instruments, by model name: module ``drivers.devices.<model>`` documents each one's
# command set in COMMANDS (request, answer, meaning, access). Names only, so that listing
# the models does not import the ASCII drivers.
ASCII_MODELS: tuple[str, ...] = ("dc_psu", "vacuum_gauge")
