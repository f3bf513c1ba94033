"""The promise of issue 3 on the simulated platform, through the real command line: start
`talos-platform install --simulate`, kill -9 it at many points spread over all five layers (right
after `talosctl bootstrap`, during Vault's init, ...), run the same command again until it
succeeds, and prove from the simulator's own journal that nothing was applied twice and from
the state directory that no file was lost or corrupted.

The simulated cluster lives in the state directory's `simulation.jsonl` (every change the
install made, in order), so it is also the record of what was applied."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import yaml

SPEED = "150"  # about 450 virtual seconds: 3 real seconds for a whole install
ROUND_TIMEOUT = 30.0

SECRET_FILES = (
    "talos/secrets.yaml",
    "talos/talosconfig",
    "talos/controlplane.yaml",
    "talos/worker.yaml",
    "kubeconfig",
    "vault-init.json",
)
WRITTEN_ONCE = ("talos/secrets.yaml", "vault-init.json")  # never regenerated, never changed


def install(state: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "talos_platform",
        "install",
        "--yes",
        "--simulate",
        "--speed",
        SPEED,
        "--state-dir",
        str(state),
        "--output",
        "json",
    ]
    environment = {**os.environ, "TALOS_PLATFORM_LOOPBACK_ONLY": "1"}
    return subprocess.Popen(
        command, env=environment, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def changes(state: Path) -> list[dict]:
    """The simulator's journal as far as it was written (a line cut by the kill is left out)."""
    journal = state / "simulation.jsonl"
    found = []
    for line in journal.read_text().splitlines()[1:] if journal.exists() else []:
        try:
            found.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return found


def started_steps(state: Path, known_runs: set[str]) -> set[str]:
    """Steps this run (the one not in `known_runs`) started, from its events journal."""
    runs = state / "runs"
    started: set[str] = set()
    for folder in runs.iterdir() if runs.is_dir() else ():
        if folder.name in known_runs or not (folder / "events.jsonl").exists():
            continue
        for line in (folder / "events.jsonl").read_text().splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("type") == "StepStarted":
                started.add(event.get("step_id", ""))
    return started


def count(state: Path, change: str) -> int:
    return sum(1 for entry in changes(state) if entry["change"] == change)


def last_change_is(change: str) -> Callable[[Path, set[str]], bool]:
    return lambda state, known: bool(changes(state)) and changes(state)[-1]["change"] == change


def at_least(change: str, times: int) -> Callable[[Path, set[str]], bool]:
    return lambda state, known: count(state, change) >= times


def file_exists(name: str) -> Callable[[Path, set[str]], bool]:
    return lambda state, known: (state / name).exists()


def step_started(step_id: str) -> Callable[[Path, set[str]], bool]:
    return lambda state, known: step_id in started_steps(state, known)


# In install order; each kill comes once its point is reached (the run before got there or not).
KILL_POINTS: list[tuple[str, Callable[[Path, set[str]], bool]]] = [
    ("layer 0: the run started", step_started("L0.preflight.tools")),
    ("layer 0: generating the secrets bundle", step_started("L0.secrets")),
    ("layer 0: the first node took its config", at_least("configure", 1)),
    ("layer 0: four nodes took their config", at_least("configure", 4)),
    ("layer 0: right after talosctl bootstrap", last_change_is("bootstrap")),
    ("layer 0: waiting for the API", step_started("L0.kubernetes-api")),
    ("layer 1: the bootstrap manifests went in", at_least("apply", 1)),
    ("layer 1: waiting for Cilium", step_started("L1.cilium")),
    ("layer 2: the root Application", step_started("L2.root-app")),
    ("layer 3: waiting for the Vault pod", step_started("L3.vault-running")),
    # Vault hands out its keys once, in the answer to init: a kill after Vault took the init and
    # before the answer is saved loses them, on real machines too (the step then stops and says
    # how to recover). So this kill comes the moment the keys are on disk, with the step unfinished.
    ("layer 3: during Vault's init", file_exists("vault-init.json")),
    ("layer 3: unsealing", at_least("vault_unseal", 1)),
    ("layer 3: Kubernetes auth enabled", at_least("vault_enable_kubernetes_auth", 1)),
    ("layer 4: the applications", step_started("L4.applications")),
]


def hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def check_files(state: Path, first_seen: dict[str, bytes]) -> None:
    """Every state file parses (the rendered GitOps tree too); secret ones are 0600; the
    once-written ones never changed."""
    for path in state.rglob("*"):
        if not path.is_file() or path.name == ".lock" or hidden(path.relative_to(state)):
            continue  # an atomic write's temp file or a render's staging folder: never read
        if path.suffix not in (".jsonl", ".json", ".yaml") and path.name not in ("talosconfig", "kubeconfig"):
            continue
        text = path.read_text()
        if path.suffix == ".jsonl":
            lines = text.splitlines()
            for line in lines[:-1]:
                json.loads(line)  # only the line being written at the kill may be cut
        elif path.suffix == ".json":
            json.loads(text)
        elif path.suffix == ".yaml" or path.name in ("talosconfig", "kubeconfig"):
            list(yaml.safe_load_all(text))
    for name in SECRET_FILES:
        path = state / name
        if path.exists():
            assert path.stat().st_mode & 0o777 == 0o600, f"{name} is {oct(path.stat().st_mode & 0o777)}"
    for name in WRITTEN_ONCE:
        path = state / name
        if path.exists():
            content = path.read_bytes()
            assert first_seen.setdefault(name, content) == content, f"{name} changed after it was first written"
            assert content.strip(), f"{name} is empty"


def test_kill_minus_nine_a_simulated_install_at_many_points_then_resume(tmp_path):
    state = tmp_path / "state"
    first_seen: dict[str, bytes] = {}
    killed_at = []
    started = time.monotonic()
    for name, reached in KILL_POINTS:
        known_runs = {p.name for p in (state / "runs").iterdir()} if (state / "runs").is_dir() else set()
        process = install(state)
        deadline = time.monotonic() + ROUND_TIMEOUT
        while not reached(state, known_runs) and process.poll() is None:
            assert time.monotonic() < deadline, f"no progress to {name!r} within {ROUND_TIMEOUT:g}s"
            time.sleep(0.005)
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
            killed_at.append(name)
        else:
            assert process.returncode == 0, process.stderr.read().decode()[-2000:]
        process.stderr.close()
        check_files(state, first_seen)
    assert len(killed_at) >= 10, f"only {len(killed_at)} kills landed: {killed_at}"
    assert "layer 0: right after talosctl bootstrap" in killed_at and "layer 3: during Vault's init" in killed_at

    for _ in range(3):  # the same command again, until the install succeeds
        final = install(state)
        _, errors = final.communicate(timeout=120)
        if final.returncode == 0:
            break
    assert final.returncode == 0, errors.decode()[-2000:]
    assert errors.decode().startswith("SIMULATED: resuming the simulated cluster")
    check_files(state, first_seen)
    leftovers = [*state.rglob(".*.tmp"), *state.rglob(".*.render-*")]
    assert not leftovers, f"temp files or staging folders left behind: {leftovers}"

    done = changes(state)
    kinds = Counter(entry["change"] for entry in done)
    assert kinds["bootstrap"] == 1 and kinds["bootstrap_refused"] == 0  # talosctl bootstrap: exactly once
    assert kinds["vault_initialize"] == 1
    assert kinds["vault_enable_kubernetes_auth"] == 1  # read back on resume, not written again
    configured = Counter((entry["address"], entry["digest"]) for entry in done if entry["change"] == "configure")
    assert len(configured) == 6 and set(configured.values()) == {1}, configured  # each node once for its config
    assert kinds["reconfigure"] == 0
    written = Counter(entry["path"] for entry in done if entry["change"] == "vault_write")
    assert written and set(written.values()) == {1}, written
    assert set(first_seen) == set(WRITTEN_ONCE)
    assert time.monotonic() - started < 150
