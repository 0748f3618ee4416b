"""linecontrol: line control and data acquisition for roll-to-roll FCCL laminator lines."""

__version__ = "0.1.0"
