"""The pods behind the Application a step waits on, judged as the dashboard judges them: a pod
Pending within its start grace (engine/observe/pods.py `POD_START_GRACE_SECONDS`) is starting, not
a problem. Read only while the blocker is Progressing, at most every `REREAD_SECONDS` per
namespace (a step judges every change among many Applications)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from talos_platform.engine.drivers.protocols import PODS
from talos_platform.engine.observe.blockers import Blocker, pods_behind
from talos_platform.engine.observe.pods import PodHealth, classify_pod, next_grace_end
from talos_platform.engine.observe.snapshot import PodProblem

if TYPE_CHECKING:
    from talos_platform.engine.plan.context import StepContext

REREAD_SECONDS = 5.0


class PodsBehind:
    def __init__(self, ctx: StepContext):
        self.ctx = ctx
        self._read: dict[str, tuple[float, list[PodHealth]]] = {}
        self._judged: list[PodHealth] = []

    async def problems(self, blocker: Blocker) -> list[PodProblem]:
        """The problems of the pods behind `blocker` as of now, starting ones marked as such; none
        when the pods cannot be read (the line is still worth giving without them)."""
        namespace = blocker.resource.namespace if blocker.resource is not None else ""
        now = self.ctx.clock.now()
        read = self._read.get(namespace)
        if read is None or now - read[0] >= REREAD_SECONDS:
            try:
                listed = await self.ctx.drivers.kube.list(PODS, namespace=namespace or None)
            except Exception:  # noqa: BLE001 - best effort, as the failure's pods are
                return []
            read = self._read[namespace] = (now, [classify_pod(pod) for pod in listed.items])
        self._judged = read[1]
        found = [problem for problem in (pod.problem_at(now) for pod in read[1]) if problem is not None]
        return pods_behind(blocker, found)

    def forget(self) -> None:
        """The blocker is not Progressing (or there is none): no pod's grace matters now."""
        self._judged = []

    def until_a_grace_ends(self) -> float | None:
        """Seconds until a starting pod last judged becomes a problem (the line then changes with
        no change to any Application); None when none will."""
        now = self.ctx.clock.now()
        end = next_grace_end(self._judged, now)
        return None if end == float("inf") else max(0.0, end - now)
