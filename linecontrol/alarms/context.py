"""The alarm engine's context from what the supervisor logs (pure).

The supervisor logs ``AlarmInputs`` (the PackML state, the recipe's needed devices,
the O2 channels of ovens not yet purged, setpoints, limits, the start-up grace) and
makes the engine's ``AlarmContext`` of it with ``context_of``; a logged run evaluated
again with other definitions (``linecontrol.whatif``) makes its context the same way,
so both judge every definition alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from linecontrol.alarms.engine import AlarmContext
from linecontrol.config import AlarmDefinition
from linecontrol.model import AlarmInputs


def context_of(definitions: Mapping[str, AlarmDefinition], inputs: AlarmInputs) -> AlarmContext:
    """With a recipe loaded, the alarms of equipment it does not use (their device not
    in ``needed``) and those of an oven expected to hold air (their channel in
    ``airy``) are suppressed by design."""
    suppressed: frozenset[str] = frozenset()
    if inputs.recipe:
        needed = set(inputs.needed)
        airy = set(inputs.airy)
        suppressed = frozenset(
            k for k, d in definitions.items() if d.device not in needed or d.channel in airy
        )
    return AlarmContext(
        state=inputs.state,
        suppressed=suppressed,
        setpoints=inputs.setpoints,
        limits=inputs.limits,
        startup_until=-math.inf if inputs.startup_until is None else inputs.startup_until,
    )
