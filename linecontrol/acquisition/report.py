"""How each device did over a run: polls, errors by kind, answered or not."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class DeviceReport:
    """How each device did over a run (``Acquisition.device_report``)."""

    devices: dict[str, dict[str, Any]]

    @property
    def never_answered(self) -> list[str]:
        """Asked at least once, never answered with values."""
        return [n for n, d in self.devices.items() if d["polls"] and not d["answered"]]

    @property
    def not_polled(self) -> list[str]:
        """Never asked (a run stopped before their first poll): not a failure."""
        return [n for n, d in self.devices.items() if not d["polls"]]

    @property
    def failing_at_end(self) -> list[str]:
        return [n for n, d in self.devices.items() if d["answered"] and d["state"] != "ok"]

    @property
    def failed(self) -> bool:
        """A device never answered, or was not answering with values at the end."""
        return bool(self.never_answered or self.failing_at_end)

    def status(self) -> str:
        """For the run's exit status: empty when no device failed."""
        n = len(self.devices)
        parts = []
        if self.never_answered:
            parts.append(f"{len(self.never_answered)} of {n} never answered")
        if self.failing_at_end:
            parts.append(f"{len(self.failing_at_end)} of {n} failing at the end")
        return f"devices failed: {', '.join(parts)}" if parts else ""

    def line(self) -> str:
        """One line: per device with errors, their count and kinds, or never answered."""
        n = len(self.devices)
        answered = n - len(self.never_answered) - len(self.not_polled)
        bad = []
        if self.not_polled:
            bad.append(f"{len(self.not_polled)} not polled before the stop")
        for name, d in self.devices.items():
            if (not d["errors"] and d["answered"]) or not d["polls"]:
                continue
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(d["kinds"].items()))
            what = "never answered" if not d["answered"] else f"{d['errors']} errors"
            if d["answered"] and d["state"] != "ok":
                what += f", {d['state']} at the end"
            bad.append(f"{name} {what}" + (f" ({kinds})" if kinds else ""))
        if not bad:
            return f"devices: {answered} of {n} answered, no errors"
        return f"devices: {answered} of {n} answered; " + "; ".join(bad)
