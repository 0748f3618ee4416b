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
    """Root of the application's own errors. Each subclass is also the builtin it
    stands for (``ValueError``, ``KeyError``, ``OSError``...), so a caller may catch
    either; the classes defined elsewhere in the package (``RunLogError``,
    ``RunNotFound``, ``RecordError``...) subclass it too."""


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


class UnknownChannel(LinecontrolError, KeyError):
    """Channel names a run (or a line) does not have; the message lists them."""

    def __str__(self) -> str:  # KeyError's repr-quoting would wrap the whole message
        return str(self.args[0]) if self.args else ""


class AddressMapError(LinecontrolError, ValueError):
    """A simulator's address map does not serve a device or bus of the line config."""


class InstallError(LinecontrolError, ImportError):
    """linecontrol is installed in a way it cannot run from (zipped: its embedded
    configs must be files another process can open)."""
