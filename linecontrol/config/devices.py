"""The line config's instruments: the models of ``drivers.config``, re-exported.

One set of device and bus models serves the application and the simulators
(``drivers.config``); this module keeps the application's import path.
"""

from __future__ import annotations

from drivers.config import AnyDevice, AsciiDevice, BusConfig, DeviceConfig, RtuDevice, TcpDevice

__all__ = ["AnyDevice", "AsciiDevice", "BusConfig", "DeviceConfig", "RtuDevice", "TcpDevice"]
