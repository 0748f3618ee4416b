"""Pure physics: ``step(params, state, inputs, dt) -> state``, no I/O, no clock."""
