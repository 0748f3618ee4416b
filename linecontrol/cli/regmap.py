"""``linecontrol regmap``: an instrument's register map (Modbus) or command set (ASCII),
from the drivers' registry."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from linecontrol.cli.options import line_option
from linecontrol.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_OK,
    error,
    load_line,
    print_table,
    write_json,
)
from linecontrol.config import DEFAULT_LINE

if TYPE_CHECKING:
    from drivers.spec import ModelSpec


def models() -> list[str]:
    """Every instrument model ``regmap`` knows (the drivers' registry): Modbus, then ASCII."""
    from drivers.devices import MODELS

    return sorted(MODELS, key=lambda m: (MODELS[m].protocol != "modbus", m))


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reg = sub.add_parser(
        "regmap",
        help="print an instrument's register map",
        description="Print an instrument's register map (Modbus) or command set (ASCII).",
    )
    reg.add_argument(
        "device",
        metavar="DEVICE",
        help=f"a model ({', '.join(models())}) or a device name of the line config",
    )
    line_option(reg, "--line", "CONFIG", "line config whose device names DEVICE may be")
    reg.add_argument("--json", action="store_true", help="machine-readable output")
    reg.set_defaults(func=run)


def _ascii_commands(spec: ModelSpec, as_json: bool) -> int:
    described = spec.describe()
    cmds = described["commands"]
    if as_json:
        write_json(described)
        return EXIT_OK
    print(f"{spec.model}: {spec.description}")
    w1 = max(len(c["request"]) for c in cmds)
    w2 = max(len(c["answer"]) for c in cmds)
    for c in cmds:
        print(f"  {c['request']:<{w1}}  {c['answer']:<{w2}}  {c['access']:<2}  {c['meaning']}")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    from drivers.devices import MODELS

    model = args.device
    # A model needs no line config; one the user names is read all the same.
    if model not in MODELS or args.line != DEFAULT_LINE:
        line = load_line(args.line)
        if line is None:
            return EXIT_BAD_INPUT
        dev = line.devices.get(model)
        if dev is None and model not in MODELS:
            known = models() + sorted(line.devices)
            error(f"unknown device {model!r}; known: {', '.join(known)}")
            return EXIT_BAD_INPUT
        if dev is not None:
            model = dev.model
    spec = MODELS[model]
    if spec.regmap is None:
        return _ascii_commands(spec, args.json)
    regmap = spec.regmap
    if args.json:
        write_json(regmap.describe())
        return EXIT_OK
    print(f"{regmap.model}: {regmap.description} ({regmap.link})")
    head = ("table", "addr", "n", "type", "order", "scale", "unit", "access", "range", "name")
    rows = [head]
    for r in sorted(regmap, key=lambda r: (r.table, r.address)):
        rng = "" if r.min is None else f"{r.min:g}..{r.max:g}"
        rows.append(
            (
                r.table,
                str(r.address),
                str(r.width),
                r.type,
                r.order if r.width == 2 else "",
                f"{r.scale:g}",
                r.unit,
                r.access,
                rng,
                r.name,
            )
        )
    print_table(rows)
    for r in regmap:
        if r.bits:
            bits = ", ".join(f"{b}={n}" for b, n in sorted(r.bits.items()))
            print(f"{r.name} bits: {bits}")
    return EXIT_OK
