"""The guided install from start to finish: where the answers start from, the wizard, the
confirmed write of the files, then the hand-over to the install.

Exit codes: 0 done or "Cancel" chosen, 130 interrupted by Ctrl-C (both write nothing).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from talos_platform.engine.config.editing import ConfigEdit
from talos_platform.engine.config.loading import read_config
from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.secrets import SECRET_KEYS, Secrets, load_secrets
from talos_platform.engine.errors import UserError
from talos_platform.engine.state import StateDirectory, state_directory_for
from talos_platform.wizards import prompts
from talos_platform.wizards.answers import Answers
from talos_platform.wizards.checks import secrets_of
from talos_platform.wizards.files import WrittenFiles, backup_of, config_path_problem, planned_edit, write_files
from talos_platform.wizards.flow import Cancelled, review, run_wizard
from talos_platform.wizards.prompts import BACK
from talos_platform.wizards.sections import SUGGEST_LINK

INTERRUPTED = 130
CANCELLED_MESSAGE = "cancelled, nothing written"


@dataclass(frozen=True)
class GuidedOptions:
    config_path: Path | None = None
    """`--config`: start from this file and save back to it."""
    state_dir: Path | None = None
    simulate: bool = False
    scenario: str = "default"
    speed: float = 1.0
    """Simulated seconds per real second (with `simulate`)."""


@dataclass
class Start:
    answers: Answers
    where_from: str
    save_as: Path


def _secrets_dict(secrets: Secrets) -> dict[str, str]:
    return {key: getattr(secrets, attribute) for key, attribute in SECRET_KEYS.items() if getattr(secrets, attribute)}


def state_for(answers: Answers, options: GuidedOptions) -> StateDirectory:
    return state_directory_for(answers.get("cluster.name"), options.state_dir, simulated=options.simulate)


def starting_point(options: GuidedOptions, console: Console) -> Start:
    """Fresh defaults, an existing config (and its saved secrets), or the simulated scenario."""
    editing = options.config_path is not None and options.config_path.exists()
    if options.simulate and not editing:  # a given config is the start, simulated or not
        from talos_platform.engine.sim import simulated_platform

        platform = simulated_platform(options.scenario)
        answers = Answers.from_config(platform.config, _secrets_dict(platform.secrets))
        save_as = options.config_path or Path("platform-simulated.yaml")
        return Start(answers, f"the simulated scenario {options.scenario!r}", save_as)
    if options.config_path is not None and not options.config_path.exists():
        return Start(_fresh(), f"defaults; the config will be saved as {options.config_path}", options.config_path)
    if options.config_path is not None:
        answers = Answers.from_config(read_config(options.config_path))
        try:
            saved = state_for(answers, options).secrets_file
        except UserError:
            saved = None  # the cluster name is wrong; the wizard will ask for a good one
        if saved is not None and saved.exists():
            try:
                answers.secrets.update(_secrets_dict(load_secrets(saved, environ={})))
            except UserError as error:
                console.print(f"[yellow]warning[/] not using the saved secrets: {escape(str(error))}")
        return Start(answers, str(options.config_path), options.config_path)
    return Start(_fresh(), "defaults", Path("platform.yaml"))


def _fresh() -> Answers:
    answers = Answers()
    answers.flags[SUGGEST_LINK] = True
    return answers


def _ask_save_path(start: Start, config: PlatformConfig, console: Console) -> tuple[Path, ConfigEdit] | None:
    """Where to save the config and what that changes; None when the user goes back to the
    review. An existing file is only changed once the user has seen the change and agreed."""
    while True:
        typed = prompts.ask_text("Save the config as", default=str(start.save_as), validate=config_path_problem)
        if typed is BACK:
            return None
        path = Path(typed.strip()).expanduser()
        try:
            edit = planned_edit(config, path)
        except (OSError, UnicodeDecodeError) as error:
            console.print(f"[red]cannot read {escape(str(path))}[/]: {escape(str(error))}; choose another file")
            continue
        if edit.before is None:
            return path, edit
        if not edit.changed:
            console.print(f"{escape(str(path))} already holds these answers; it stays as it is.")
            return path, edit
        show_diff(path, edit, console)
        agreed = prompts.ask_confirm(
            f"Write these changes to {path}? (the file as it is now is kept as {backup_of(path).name})", default=True
        )
        if agreed is True:
            return path, edit


def show_diff(path: Path, edit: ConfigEdit, console: Console) -> None:
    """The change to an existing file, as a unified diff; comments and layout are kept."""
    console.rule(f"Changes to {escape(str(path))}")
    styles = {"+": "green", "-": "red", "@": "cyan"}
    for line in edit.diff[2:]:  # the ---/+++ lines name nothing useful here
        style = styles.get(line[:1])
        console.print(f"[{style}]{escape(line)}[/]" if style else escape(line), highlight=False)


def _explain(written: WrittenFiles, console: Console) -> None:
    console.rule("Files written")
    console.print(f"config:  [bold]{escape(str(written.config))}[/]  (no secrets in it: safe to commit)")
    if written.secrets is not None:
        console.print(
            f"secrets: [bold]{escape(str(written.secrets))}[/]  (mode 0600, in the cluster's state directory, "
            "outside your working copy so it is never committed)"
        )
    else:
        console.print("secrets: none needed by the chosen components, no secrets file written")


def install_command(written: WrittenFiles, options: GuidedOptions) -> str:
    """The exact headless command that installs from the written files."""
    parts = ["talos-platform", "install", "--yes", "--config", str(written.config)]
    if written.secrets is not None:
        parts += ["--secrets", str(written.secrets)]
    if options.state_dir is not None:
        parts += ["--state-dir", str(options.state_dir)]
    if options.simulate:
        parts += ["--simulate", "--scenario", options.scenario, "--speed", f"{options.speed:g}"]
    return " ".join(parts)


HandOver = Callable[[WrittenFiles, Answers, GuidedOptions, Console], int]


def _hold(held: contextlib.ExitStack, state: StateDirectory) -> None:
    """Take the state directory's lock into `held`; a directory that cannot be made is the
    wizard's usual "nothing was written" error."""
    from talos_platform.engine.state import StateDirectoryBusy

    try:
        held.enter_context(state.lock())
    except StateDirectoryBusy:
        raise
    except UserError as error:  # a file where the folder should be, no permission
        raise UserError(
            f"could not write the files ({error.message}); nothing was written",
            where=error.where,
            hint="check that the folder exists and is writable, then run the wizard again",
        ) from None


def run_guided(options: GuidedOptions, console: Console, hand_over: HandOver | None = None) -> int:
    """The wizard, then the files, then `hand_over` (show the plan, confirm, install)."""
    console.print("[bold]talos-platform[/] guided install")
    console.print("Esc goes back to the previous question; Ctrl-C cancels. Nothing is written until you confirm.")
    if options.simulate:
        console.print(
            "[bold magenta]SIMULATION[/]: the answers start from a simulated cluster and the install will run "
            "on the simulator; no machine is touched."
        )
    try:
        start = starting_point(options, console)
        console.print(f"Starting from {escape(start.where_from)}.")
        answers = start.answers
        run_wizard(answers, console)
        config = answers.to_config()
        while True:
            chosen = _ask_save_path(start, config, console)
            if chosen is not None:
                break
            review(answers, console)
            config = answers.to_config()
        save_as, edit = chosen
        state = state_for(answers, options)
        secrets = secrets_of(answers)
        with contextlib.ExitStack() as held:
            if secrets.given():  # the secrets file goes into the state directory: not while an install holds it
                _hold(held, state)
            written = write_files(config, secrets, save_as, state.secrets_file, edit)
    except Cancelled:  # the user's choice, not an interruption
        console.print(CANCELLED_MESSAGE)
        return 0
    except KeyboardInterrupt:
        console.print(CANCELLED_MESSAGE)
        return INTERRUPTED
    except OSError as error:  # write_files has put everything back as it was
        raise UserError(
            f"could not write the files ({error.strerror or error}); nothing was written",
            where=str(getattr(error, "filename", None) or save_as),
            hint="check that the folder exists and is writable, then run the wizard again",
        ) from None
    _explain(written, console)
    if written.interrupted:
        console.print("interrupted after the files were written; the install was not started")
        return INTERRUPTED
    if hand_over is None:
        console.print(f"Next, install with:\n  {escape(install_command(written, options))}")
        return 0
    return hand_over(written, answers, options, console)
