"""The rule table: every rule registers itself here with its id, severity, source and
summary (the ``rule`` decorator); ``check`` runs them in the order of ``RULES``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

from linecontrol.config import LineConfig, Recipe
from linecontrol.process.derive import Derived

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Violation:
    rule: str
    severity: Severity
    field: str
    value: Any
    window: str
    source: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Finding:
    """What a rule function yields: the rule adds its id, severity and source."""

    field: str
    value: Any
    window: str
    detail: str = ""
    shown: str = ""  # the value as the message shows it (default: ``fmt(value)``)


RuleFn = Callable[[Recipe, LineConfig, Derived], Iterator[Finding]]


@dataclass(frozen=True)
class Rule:
    id: str
    severity: Severity
    source: str
    summary: str
    fn: RuleFn
    routes: frozenset[str] | None = None  # None: every route


RULES: list[Rule] = []


def rule(
    id: str, severity: Severity, source: str, summary: str, routes: tuple[str, ...] | None = None
) -> Callable[[RuleFn], RuleFn]:
    def register(fn: RuleFn) -> RuleFn:
        RULES.append(
            Rule(
                id, severity, source, summary, fn, frozenset(routes) if routes is not None else None
            )
        )
        return fn

    return register
