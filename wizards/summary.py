"""The review screen: every answer in a few tables, secrets only as set/missing, then every
problem the rules still find."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console, Group
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from talos_platform.wizards import checks
from talos_platform.wizards.answers import Answers
from talos_platform.wizards.fields import print_problem
from talos_platform.wizards.secret_fields import SECRET_LABELS, needed_secrets, optional_secret_names
from talos_platform.wizards.sections import COMPONENTS

if TYPE_CHECKING:
    from talos_platform.engine.config.validation import Problem


def _text(value: object) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _settings_table(title: str, rows: list[tuple[str, object]]) -> Table:
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column("setting", style="bold")
    table.add_column("value")
    for label, value in rows:
        table.add_row(label, escape(_text(value)))
    return table


def _nodes_table(answers: Answers) -> Table:
    table = Table(title="Nodes", title_justify="left")
    for column in ("#", "name", "role", "address", "install disk", "link"):
        table.add_column(column)
    for index, node in enumerate(answers.nodes, start=1):
        table.add_row(
            str(index),
            escape(_text(node.get("name"))),
            escape(_text(node.get("role"))),
            escape(_text(node.get("address"))),
            escape(_text(node.get("installDisk"))),
            escape(_text(node.get("link"))),
        )
    return table


def _components_table(answers: Answers) -> Table:
    table = Table(title="Components", title_justify="left")
    table.add_column("component")
    table.add_column("install")
    table.add_column("version")
    for switch, label, version_path, _ in COMPONENTS:
        enabled = bool(answers.get(switch))
        version = answers.get(version_path) if version_path else ""
        table.add_row(label, "yes" if enabled else "[dim]no[/]", escape(_text(version)) if version_path else "")
    return table


def _secrets_table(answers: Answers) -> Table:
    table = Table(title="Secrets", title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column("secret", style="bold")
    table.add_column("state")
    needed = needed_secrets(answers)
    for name in needed:
        state = "[green]set[/]" if answers.secrets.get(name) else "[red]missing[/]"
        table.add_row(SECRET_LABELS.get(name, name), state)
    for name in optional_secret_names(answers):
        state = "[green]set[/]" if answers.secrets.get(name) else "[dim]generated at install[/]"
        table.add_row(SECRET_LABELS.get(name, name), state)
    if not needed and not optional_secret_names(answers):
        table.add_row("none needed by the chosen components", "")
    return table


def _storage_text(answers: Answers) -> str:
    if answers.get("storage.storageClass"):
        return f"StorageClass {answers.get('storage.storageClass')} (yours)"
    if answers.get("storage.localPath.enabled") is False:
        return "none"
    return f"local-path provisioner {answers.get('storage.localPath.version') or ''}".strip()


def summary(answers: Answers) -> Group:
    document = answers.document
    cluster = document.get("cluster", {})
    network = cluster.get("network", {})
    return Group(
        _settings_table(
            "Cluster",
            [
                ("name", cluster.get("name")),
                ("platform", cluster.get("platform")),
                ("Talos", cluster.get("talosVersion")),
                ("Kubernetes", cluster.get("kubernetesVersion")),
                ("VIP", cluster.get("vip")),
                ("gateway", network.get("gateway")),
                ("pod network", network.get("podCidr")),
                ("service network", network.get("serviceCidr")),
                ("extra API names", cluster.get("extraApiSans")),
                ("system extensions", (cluster.get("schematic") or {}).get("systemExtensions")),
                ("kernel arguments", " ".join((cluster.get("schematic") or {}).get("extraKernelArgs") or [])),
                ("load-balancer addresses", network.get("loadBalancerPool")),
                ("storage", _storage_text(answers)),
            ],
        ),
        Text(""),
        _nodes_table(answers),
        Text(""),
        _settings_table(
            "Domain and GitOps",
            [
                ("base domain", answers.get("domain.base")),
                ("ACME e-mail", answers.get("domain.acmeEmail")),
                ("repository", answers.get("gitops.repoUrl")),
                ("branch", answers.get("gitops.branch")),
                ("folder", answers.get("gitops.path")),
                ("private", answers.get("gitops.private")),
            ],
        ),
        Text(""),
        _components_table(answers),
        Text(""),
        _secrets_table(answers),
    )


def show_review(console: Console, answers: Answers) -> list[Problem]:
    """Print the summary and the remaining problems; returns the problems."""
    console.rule("Review")
    console.print(summary(answers))
    problems = checks.all_problems(answers.document, checks.secrets_of(answers))
    if problems:
        console.print()
    for problem in problems:
        print_problem(console, problem)
    return problems
