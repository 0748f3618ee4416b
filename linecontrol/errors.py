"""Error types of the application layer (config, recipes, CLI)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file: where, and what."""

    file: str
    field: str | None
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            return f"{where}: {self.field}: {self.message}"
        return f"{where}: {self.message}"


class LinecontrolError(Exception):
    """Root of the application's own errors."""


class InvalidArgument(LinecontrolError, ValueError):
    """A function of the package called with an argument outside its domain (an
    unknown export format or log level): the caller's mistake, not an
    input file's."""


class InputFileError(LinecontrolError, ValueError):
    """A config or recipe file cannot be read, parsed or validated.

    Carries every problem found, each naming the file, the field path and (for
    TOML syntax) the line, so a user can fix them all in one pass.
    """

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
