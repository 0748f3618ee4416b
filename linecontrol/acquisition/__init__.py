"""The acquisition room: poll every instrument at its rate, stamp each value with
time and quality, fan the snapshot out. ``wiring`` builds links and drivers from the
line config, ``scheduler`` runs one scheduler per physical link, ``snapshot`` holds the
numpy columns, ``quality`` judges values, ``fanout`` serves subscribers under named
overflow policies, ``report`` says how each device did, ``service`` (``Acquisition``) ties
them together with the sampler. Other rooms import from ``linecontrol.acquisition``,
not its modules."""

from linecontrol.acquisition.fanout import (
    LatestValue,
    Overflow,
    ResyncNeeded,
    RowQueue,
    Subscriber,
)
from linecontrol.acquisition.quality import (
    BACKOFF_CAP_S,
    STALE_PERIODS,
    Quality,
    backoff_s,
    refresh,
)
from linecontrol.acquisition.report import DeviceReport
from linecontrol.acquisition.scheduler import Driver, LinkScheduler, Poller
from linecontrol.acquisition.service import Acquisition
from linecontrol.acquisition.snapshot import QUALITY_NAMES, WEB_POSITION, Row, Snapshot
from linecontrol.acquisition.wiring import apply_address_map, device_channels, open_driver

__all__ = [
    "BACKOFF_CAP_S",
    "QUALITY_NAMES",
    "STALE_PERIODS",
    "WEB_POSITION",
    "Acquisition",
    "DeviceReport",
    "Driver",
    "LatestValue",
    "LinkScheduler",
    "Overflow",
    "Poller",
    "Quality",
    "ResyncNeeded",
    "Row",
    "RowQueue",
    "Snapshot",
    "Subscriber",
    "apply_address_map",
    "backoff_s",
    "device_channels",
    "open_driver",
    "refresh",
]
