"""The simulators' error tree: every error a simulator raises on purpose subclasses
``SimulatorError`` and the matching builtin."""

from __future__ import annotations


class SimulatorError(Exception):
    """Root of the simulators' errors."""


class SimConfigError(SimulatorError, ValueError):
    """The line config cannot be simulated: each problem names the file and the field."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class SimLineError(SimulatorError, ValueError):
    """The simulated line cannot be built from its specs (a unit taken twice, an
    unknown fault, a purge that names no flow controller): the entry point names the
    config file."""


class SimProtocolError(SimulatorError, ValueError):
    """A client's bytes that are not the protocol the simulator speaks."""
