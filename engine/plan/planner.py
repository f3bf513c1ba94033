"""The plan: every step of an install as a DAG, in a stable topological order, grouped by layer.

A plan is checked when built: duplicate ids, a `needs` naming no step, a step needing a step of a
later layer, and cycles are refused with an error that names the steps involved.
"""

from __future__ import annotations

import graphlib
import heapq
from collections.abc import Iterable, Iterator

from talos_platform.engine.errors import UserError
from talos_platform.engine.plan.step import Step


class PlanInvalid(UserError):
    """The steps do not form a valid plan (a bug in the step definitions, not in the config)."""


class Plan:
    """Steps in a topological order; ties broken by layer, then by the order they were given."""

    def __init__(self, steps: Iterable[Step]):
        given = list(steps)
        self._by_id: dict[str, Step] = {}
        for step in given:
            if step.id in self._by_id:
                raise PlanInvalid(f"two steps share the id {step.id!r}", where=step.id)
            self._by_id[step.id] = step
        _check_edges(given, self._by_id)
        self._steps = tuple(_topological_order(given))

    # --- reading -------------------------------------------------------------------------

    @property
    def steps(self) -> tuple[Step, ...]:
        return self._steps

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(step.id for step in self._steps)

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(sorted({step.layer for step in self._steps}))

    def steps_in_layer(self, layer: int) -> list[Step]:
        return [step for step in self._steps if step.layer == layer]

    def step(self, step_id: str) -> Step:
        try:
            return self._by_id[step_id]
        except KeyError:
            raise UserError(
                f"no step named {step_id!r}",
                hint=f"steps are: {', '.join(self.ids)}" if self._steps else "the plan is empty",
            ) from None

    def dependencies(self, step_id: str) -> set[str]:
        """Every step `step_id` needs, directly or through others."""
        found: set[str] = set()
        pending = list(self.step(step_id).needs)
        while pending:
            current = pending.pop()
            if current not in found:
                found.add(current)
                pending.extend(self._by_id[current].needs)
        return found

    def dependents(self, step_id: str) -> set[str]:
        """Every step that needs `step_id`, directly or through others."""
        self.step(step_id)
        return {other.id for other in self._steps if step_id in self.dependencies(other.id)}

    def __iter__(self) -> Iterator[Step]:
        return iter(self._steps)

    def __len__(self) -> int:
        return len(self._steps)

    def __contains__(self, step_id: object) -> bool:
        return step_id in self._by_id


def _check_edges(steps: list[Step], by_id: dict[str, Step]) -> None:
    for step in steps:
        for needed in step.needs:
            if needed not in by_id:
                raise PlanInvalid(f"needs {needed!r}, which is not a step of this plan", where=step.id)
            if by_id[needed].layer > step.layer:
                raise PlanInvalid(
                    f"needs {needed!r} of layer {by_id[needed].layer}, a later layer than its own ({step.layer})",
                    where=step.id,
                    hint="a step may only need steps of its own or earlier layers",
                )
    try:
        graphlib.TopologicalSorter({step.id: step.needs for step in steps}).prepare()
    except graphlib.CycleError as cycle:
        chain = " needs ".join(reversed(cycle.args[1]))
        raise PlanInvalid(f"steps need each other in a cycle: {chain}", where=cycle.args[1][0]) from None


def _topological_order(steps: list[Step]) -> list[Step]:
    """Kahn's algorithm with a heap keyed on (layer, given position): deterministic output."""
    position = {step.id: index for index, step in enumerate(steps)}
    by_id = {step.id: step for step in steps}
    waiting = {step.id: len(set(step.needs)) for step in steps}
    needed_by: dict[str, list[str]] = {step.id: [] for step in steps}
    for step in steps:
        for needed in set(step.needs):
            needed_by[needed].append(step.id)
    ready = [(by_id[i].layer, position[i], i) for i, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    ordered: list[Step] = []
    while ready:
        _, _, step_id = heapq.heappop(ready)
        ordered.append(by_id[step_id])
        for follower in needed_by[step_id]:
            waiting[follower] -= 1
            if waiting[follower] == 0:
                heapq.heappush(ready, (by_id[follower].layer, position[follower], follower))
    return ordered
