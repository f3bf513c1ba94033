"""After the files are written: show what the install will do, layer by layer, and ask to go."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from talos_platform.wizards import prompts
from talos_platform.wizards.prompts import BACK

if TYPE_CHECKING:
    from talos_platform.engine.plan.planner import Plan

LAYER_TITLES = {
    0: "Talos nodes",
    1: "bootstrap (Gateway API CRDs, Cilium, ArgoCD)",
    2: "layer-0 apps by sync wave",
    3: "platform services",
    4: "applications",
}


def plan_table(plan: Plan, selected: tuple[str, ...] | None = None) -> Table:
    table = Table(title="Install plan", title_justify="left")
    table.add_column("layer", justify="right")
    table.add_column("what")
    table.add_column("steps", justify="right")
    table.add_column("first steps")
    for layer in plan.layers:
        ids = [step.id for step in plan.steps_in_layer(layer) if selected is None or step.id in selected]
        if not ids:
            continue
        shown = ", ".join(ids[:3]) + (", …" if len(ids) > 3 else "")
        table.add_row(str(layer), LAYER_TITLES.get(layer, ""), str(len(ids)), escape(shown))
    return table


def show_plan(console: Console, plan: Plan, *, simulated: bool, selected: tuple[str, ...] | None = None) -> None:
    console.rule("Plan")
    if simulated:
        console.print("[bold magenta]SIMULATION[/]: these steps run on the simulator, not on real machines.")
    console.print(plan_table(plan, selected))
    console.print(
        "Each step checks first and skips what is already done, so the install can be stopped and run again. "
        "`talos-platform plan --config FILE` shows the exact commands."
    )


def confirm_install(*, simulated: bool) -> bool:
    """True to start now. Esc counts as "not now"."""
    message = "Start the simulated install now?" if simulated else "Start the install now? (this changes the machines)"
    answer = prompts.ask_confirm(message, default=simulated)
    return answer is not BACK and bool(answer)
