"""Where each node of a Talos upgrade stands, from the run journal alone (a dashboard in another
terminal reads nothing else): its phase, its version before and after, and the gate it waits on.

The phase is what the node's upgrade step last said: the upgrade command's own progress (the
drain, the install, the reboot: talosctl's `phase: drain action: START` lines, the simulator's
`cp-2: draining`), then the step's `waiting: …` lines while it waits for the node back and for
the gates before the next node. The version before is the one the preflight found the node
running (`nodes run v1.14.0 on cp-1, cp-2; …`); after is the run's `--to`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from talos_platform.engine.run.events import StepOutput, StepStarted
from talos_platform.engine.run.journal import RunRecord

UPGRADE_STEP_PREFIX = "T.upgrade."
PREFLIGHT_STEP = "T.preflight"

DRAINING, UPGRADING, REBOOTING, GATES, DONE = "draining", "upgrading", "rebooting", "gates", "done"

_TALOS_PHASE = re.compile(r"\bphase: (?P<phase>\w+)")
"""talosctl upgrade's progress (`* 10.0.0.12: phase: drain action: START`): the upgrade sequence's
phases, in order drain, cleanup, …, upgrade, meta, kexec/stopEverything, reboot."""
_SEQUENCE_PHASES = {
    "drain": DRAINING,
    "cleanup": UPGRADING,
    "dbus": UPGRADING,
    "stopServices": UPGRADING,
    "unmount": UPGRADING,
    "unmountBind": UPGRADING,
    "unmountSystem": UPGRADING,
    "volumeFinalize": UPGRADING,
    "upgrade": UPGRADING,
    "meta": UPGRADING,
    "kexec": REBOOTING,
    "stopEverything": REBOOTING,
    "reboot": REBOOTING,
}
_MACHINE_STAGE = re.compile(r"\bstage: (?P<stage>[A-Z_]+) ready: ")
"""talosctl's `stage: BOOTING ready: false unmetCond: […]` while the node comes back."""
_NODES_RUN = re.compile(r"nodes run (?P<groups>.+?)(?:; installer |$)")
_GROUP = re.compile(r"^(?P<version>\S+) on (?P<nodes>.+)$")


@dataclass(frozen=True)
class NodeProgress:
    """One node an upgrade works on (or stopped at)."""

    node: str
    phase: str
    """`draining`, `upgrading`, `rebooting`, `gates`, `done`, `failed`, or `stopped at <phase>`."""
    version_from: str = ""
    version_to: str = ""
    waiting_on: str = ""
    """The gate it waits on (`ArgoCD Applications not healthy: vault`), a retry's or the failure's error."""

    def text(self) -> str:
        """`cp-2 · gates · v1.14.0 → v1.14.1 · ArgoCD Applications not healthy: vault`."""
        versions = f"{self.version_from or '?'} → {self.version_to}" if self.version_to else ""
        return " · ".join(part for part in (self.node, self.phase, versions, self.waiting_on) if part)


def phase_of(line: str) -> tuple[str, str] | None:
    """(phase, gate) a line of a node upgrade's output says; None for a line that says neither
    (talosctl's `watching nodes: […]`, `Vault is unsealed`)."""
    line = line.strip()
    if line.startswith("waiting: "):
        waiting = line.removeprefix("waiting: ")
        return (REBOOTING, "") if " is not back yet" in waiting else (GATES, waiting)
    if line.endswith("gates passed"):
        return DONE, ""
    if " is away " in line and "waiting for it" in line:
        return REBOOTING, ""
    match = _TALOS_PHASE.search(line)
    if match and match["phase"] in _SEQUENCE_PHASES:
        return _SEQUENCE_PHASES[match["phase"]], ""
    stage = _MACHINE_STAGE.search(line)
    if stage and stage["stage"] != "RUNNING":
        return REBOOTING, ""  # talosctl watching the node boot the new version
    lowered = line.lower()
    if "post check passed" in lowered or "uncordoned" in lowered:
        return GATES, ""  # talosctl saw the node back; the step's gates come next
    if "unavailable, retrying" in lowered or "rebooting" in lowered:
        return REBOOTING, ""
    if "installing" in lowered:
        return UPGRADING, ""
    if re.search(r"\bdraining\b", lowered):  # not "Vault came back sealed after the drain"
        return DRAINING, ""
    return None


def versions_before(record: RunRecord) -> dict[str, str]:
    """Node -> the Talos version the run's preflight found it running ('' when it did not say)."""
    step = record.steps.get(PREFLIGHT_STEP)
    if step is None or not step.done:
        return {}
    match = _NODES_RUN.search(step.detail)
    if not match:
        return {}
    found: dict[str, str] = {}
    for group in match["groups"].split("; "):
        parsed = _GROUP.match(group.strip())
        if parsed:
            for node in parsed["nodes"].split(", "):
                found[node.strip()] = parsed["version"]
    return found


def upgrade_steps(record: RunRecord) -> dict[str, str]:
    """Step id -> node name, for the run's node upgrade steps."""
    return {
        step_id: step_id.removeprefix(UPGRADE_STEP_PREFIX)
        for step_id in record.steps
        if step_id.startswith(UPGRADE_STEP_PREFIX)
    }


def node_progress(record: RunRecord, version_to: str, *, live: bool) -> tuple[NodeProgress, ...]:
    """The nodes being worked on (a live run), the one that failed, or those a killed or
    interrupted run stopped at; in the run's step order."""
    steps = upgrade_steps(record)
    if not steps:
        return ()
    phases = _last_phases(record, set(steps))
    before = versions_before(record)
    progress = []
    for step_id, node in steps.items():
        step = record.steps[step_id]
        phase, gate = phases.get(step_id, (UPGRADING, ""))
        if live and step.state == "running":
            pass
        elif live and step.state == "retrying":
            gate = f"retrying: {step.detail}" if step.detail else gate
        elif not live and step.state == "failed":
            phase, gate = "failed", step.detail
        elif not live and step.state == "interrupted":
            phase = f"stopped at {phase}"
        else:
            continue
        progress.append(NodeProgress(node, phase, before.get(node, ""), version_to, gate))
    return tuple(progress)


def _last_phases(record: RunRecord, step_ids: set[str]) -> dict[str, tuple[str, str]]:
    """Per step, the phase its output last said since it last started."""
    phases: dict[str, tuple[str, str]] = {}
    for event in record.events:
        if isinstance(event, StepStarted) and event.step_id in step_ids:
            phases.pop(event.step_id, None)
        elif isinstance(event, StepOutput) and event.step_id in step_ids:
            said = phase_of(event.line)
            if said is not None:
                phases[event.step_id] = said
    return phases
