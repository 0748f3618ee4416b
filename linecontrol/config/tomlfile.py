"""Loading TOML files into pydantic models with errors a person can act on.

Every failure becomes an :class:`InputFileError` whose problems name the file,
the field path (``press.roll_load_kg``, ``ovens[2].zones[0].temperature_c``) and,
for TOML syntax errors, the line. No traceback reaches the user.
"""

from __future__ import annotations

import math
import stat
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from drivers.config import FieldProblem, TomlError, drop_union_tags, parse_toml
from linecontrol.errors import InputFileError, Problem

M = TypeVar("M", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every file-backed model: unknown keys, coercion and non-finite numbers refused."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False, frozen=True)


def format_loc(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _describe_input(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return f"got {value!r}"
    if isinstance(value, dict | list):
        return f"got a {'table' if isinstance(value, dict) else 'list'}"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"got {text}"


def validation_problems(file: str, exc: ValidationError) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        cause = err.get("ctx", {}).get("error")
        if isinstance(cause, FieldProblem):  # a validator's problems at fields below loc
            for below, text in cause.problems:
                where = _drop_union_tags(drop_union_tags(loc + below))
                problems.append(Problem(file=file, field=format_loc(where) or None, message=text))
            continue
        loc = _drop_union_tags(drop_union_tags(loc))
        msg = err["msg"]
        if err["type"] == "value_error":
            msg = msg.removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown key (not part of the schema; check its spelling)"
        elif err["type"] == "finite_number":
            msg = "must be a finite number (NaN and infinity are refused)"
        elif err["type"] == "missing":
            msg = "required field is missing"
        whole = err["type"] == "value_error" and isinstance(err.get("input"), dict | list)
        if err["type"] not in ("missing", "extra_forbidden") and "input" in err and not whole:
            msg = f"{msg} ({_describe_input(err['input'])})"
        problems.append(Problem(file=file, field=format_loc(loc) or None, message=msg))
    return problems


_UNION_LISTS: set[str] = set()


def register_union_list(field: str) -> None:
    """Name a list field whose items are a discriminated union.

    pydantic puts the tag into the error path (``stations[2].oven.zones``); a user
    wrote ``stations[2].zones``, so the tag is dropped from messages.
    """
    _UNION_LISTS.add(field)


def _drop_union_tags(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    out: list[int | str] = []
    for i, part in enumerate(loc):
        if i >= 2 and isinstance(loc[i - 1], int) and loc[i - 2] in _UNION_LISTS:
            continue
        out.append(part)
    return tuple(out)


MAX_TOML_BYTES = 16 * 1024 * 1024
"""A line config or recipe is a few kilobytes; a file past this is no config."""


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML document of the regular file at ``path``. Anything else (a directory, a
    FIFO that would block the reader for ever, a device) is refused before it is opened,
    as is a file past ``MAX_TOML_BYTES``."""
    file = str(path)
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            kind = "Is a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            raise InputFileError([Problem(file, None, f"cannot read file: {kind}")])
        if st.st_size > MAX_TOML_BYTES:
            raise InputFileError(
                [Problem(file, None, f"larger than {MAX_TOML_BYTES} bytes ({st.st_size})")]
            )
        with path.open("rb") as f:
            raw = f.read(MAX_TOML_BYTES + 1)
    except OSError as exc:
        raise InputFileError([Problem(file, None, f"cannot read file: {exc.strerror}")]) from exc
    if len(raw) > MAX_TOML_BYTES:  # it grew after the check
        raise InputFileError([Problem(file, None, f"larger than {MAX_TOML_BYTES} bytes")])
    return parse_toml_bytes(file, raw)


def parse_toml_bytes(file: str, raw: bytes) -> dict[str, Any]:
    """The TOML document of ``raw``, already read from ``file`` (named in the errors)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputFileError([Problem(file, None, "not UTF-8 text")]) from exc
    try:
        return parse_toml(text)
    except TomlError as exc:
        raise InputFileError([Problem(file, None, exc.message, exc.line)]) from exc


def load_model(path: Path, model: type[M]) -> M:
    data = read_toml(path)
    return validate_model(str(path), data, model)


def load_model_bytes(file: str, raw: bytes, model: type[M]) -> M:
    """``load_model`` of bytes already read from ``file``: the same checks and messages."""
    return validate_model(file, parse_toml_bytes(file, raw), model)


def validate_model(file: str, data: dict[str, Any], model: type[M]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputFileError(validation_problems(file, exc)) from exc
