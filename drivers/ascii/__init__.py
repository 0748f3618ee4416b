"""The drivers of the ASCII instruments: one module a model, each a thin async shell over a
``QueryLink`` with its factory ``make``. The model's declaration (``drivers/devices/<model>.py``,
pure) names the factory by path; ``drivers.factories`` resolves it."""
