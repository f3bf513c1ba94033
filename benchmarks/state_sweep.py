"""Kill and damage sweep of the state directory, on the simulated platform through the real
command line (docs/reliability.md has the figures and the command).

    .venv/bin/python benchmarks/state_sweep.py [--kills N] [--damage] [--speed X] [--out FILE]

Kill rounds: each starts a fresh state directory, runs `install --simulate`, `kill -9`s it at a
chosen point (after the k-th change to the simulated cluster, after the n-th journal event, or
twice in a row), then runs the same command until it exits 0, and checks: no once-only action
repeated (etcd bootstrap, a node's config, Vault's init, Kubernetes auth, each secret write),
every state file parses, secret files are 0600, the secrets bundle and Vault's keys never
changed, no temp file left, no traceback. A round whose kill fell between Vault accepting the
init and the answer reaching the disk is counted apart and recovered with
`--reinitialise-vault --yes`.

Damage rounds: a finished install's state directory, one file damaged (deleted, cut to half,
garbage, emptied), then the same install again: the outcome (exit 0, or exit 1/2 naming the
file), never a traceback, never a secret's text on screen or in the journal, never a second
bootstrap, Vault init or secrets bundle.

Runs one install at a time (nice 10): it takes about one core while it runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import yaml

ENVIRONMENT = {**os.environ, "TALOS_PLATFORM_LOOPBACK_ONLY": "1"}
SECRET_FILES = (
    "talos/secrets.yaml",
    "talos/talosconfig",
    "talos/controlplane.yaml",
    "talos/worker.yaml",
    "kubeconfig",
    "vault-init.json",
)
WRITTEN_ONCE = ("talos/secrets.yaml", "vault-init.json")


def command(state: Path, speed: str, *extra: str) -> list[str]:
    return [
        "nice",
        "-n",
        "10",
        sys.executable,
        "-m",
        "talos_platform",
        "install",
        "--yes",
        "--simulate",
        "--speed",
        speed,
        "--state-dir",
        str(state),
        "--output",
        "json",
        *extra,
    ]


def changes(state: Path) -> list[dict]:
    journal = state / "simulation.jsonl"
    found = []
    for line in journal.read_text(errors="replace").split("\n")[1:] if journal.exists() else []:
        try:
            found.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return found


def events(state: Path) -> int:
    total = 0
    for journal in (state / "runs").glob("*/events.jsonl") if (state / "runs").is_dir() else ():
        total += journal.read_bytes().count(b"\n")
    return total


def kill_when(state: Path, speed: str, reached, timeout: float = 60.0) -> bool:
    """Start an install, kill -9 it once `reached(state)`; False if it finished first."""
    process = subprocess.Popen(
        command(state, speed),
        env=ENVIRONMENT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    while process.poll() is None and not reached(state) and time.monotonic() < deadline:
        time.sleep(0.002)
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
        process.wait()
        return True
    return False


def finish(state: Path, speed: str, first_seen: dict[str, bytes], problems: list[str]) -> str:
    """Run the same command until exit 0; returns how: `resumed`, `vault answer lost` (then
    recovered with --reinitialise-vault) or `FAILED`."""
    how = "resumed"
    for _ in range(3):
        result = subprocess.run(
            command(state, speed),
            env=ENVIRONMENT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if "Traceback" in result.stderr:
            problems.append("traceback: " + result.stderr[-300:])
        check_files(state, first_seen, problems, finished=result.returncode == 0)
        if result.returncode == 0:
            return how
        if "this install's own interrupted run" in result.stdout:
            how = "vault answer lost"
            recovered = subprocess.run(
                command(state, speed, "--reinitialise-vault"),
                env=ENVIRONMENT,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=300,
            )
            first_seen.pop("vault-init.json", None)  # a new init, on purpose
            if recovered.returncode == 0:
                return how
    problems.append("did not finish in 3 runs")
    return "FAILED"


def check_files(state: Path, first_seen: dict[str, bytes], problems: list[str], *, finished: bool = True) -> None:
    """`finished`: after an install that ran to its end (a kill may leave temp files; the next
    install removes them)."""
    for path in state.rglob("*"):
        relative = path.relative_to(state)
        if not path.is_file() or path.name == ".lock":
            continue
        if any(part.startswith(".") for part in relative.parts) and path.name != ".inputs":
            if finished:
                problems.append(f"left behind: {relative}")
            continue
        try:
            text = path.read_text()
            if path.suffix == ".jsonl":
                for line in text.split("\n")[:-1]:
                    json.loads(line)  # only the line being written at the kill may be cut
            elif path.suffix == ".json":
                json.loads(text)
            elif path.suffix == ".yaml" or path.name in ("talosconfig", "kubeconfig"):
                list(yaml.safe_load_all(text))
        except (ValueError, yaml.YAMLError) as error:
            problems.append(f"{relative} does not parse: {type(error).__name__}")
    for name in SECRET_FILES:
        path = state / name
        if path.exists() and path.stat().st_mode & 0o777 != 0o600:
            problems.append(f"{name} is {oct(path.stat().st_mode & 0o777)}")
    for name in WRITTEN_ONCE:
        path = state / name
        if path.exists():
            content = path.read_bytes()
            if first_seen.setdefault(name, content) != content:
                problems.append(f"{name} changed")


def once_only(state: Path, problems: list[str]) -> None:
    """Once-only actions happened once. Vault's are counted on the Vault that is in use: after
    the last wipe, if a lost init answer was recovered (then the wiped Vault had exactly one
    init, nothing else: it was never unsealed)."""
    done = changes(state)
    kinds = Counter(entry["change"] for entry in done)
    if kinds["bootstrap"] != 1 or kinds["bootstrap_refused"]:
        problems.append(f"bootstrap {kinds['bootstrap']}x, refused {kinds['bootstrap_refused']}x")
    configured = Counter((e["address"], e["digest"]) for e in done if e["change"] == "configure")
    if set(configured.values()) != {1}:
        problems.append(f"a node took its config twice: {configured}")
    wipes = [i for i, e in enumerate(done) if e["change"] == "vault_wipe"]
    if len(wipes) > 1:
        problems.append(f"Vault wiped {len(wipes)}x")
    if wipes:
        before = Counter(e["change"] for e in done[: wipes[-1]] if e["change"].startswith("vault_"))
        if before != Counter({"vault_initialize": 1}):
            problems.append(f"a Vault that held more than a lost init was wiped: {dict(before)}")
    vault = done[wipes[-1] + 1 :] if wipes else done
    in_use = Counter(e["change"] for e in vault)
    if in_use["vault_initialize"] != 1 or in_use["vault_enable_kubernetes_auth"] != 1:
        problems.append(
            f"vault init {in_use['vault_initialize']}x, kubernetes auth {in_use['vault_enable_kubernetes_auth']}x"
        )
    written = Counter(e["path"] for e in vault if e["change"] == "vault_write")
    if not written or set(written.values()) != {1}:
        problems.append(f"secret writes {dict(written)}")


def kill_rounds(work: Path, speed: str, limit: int) -> list[dict]:
    probe = work / "probe"
    subprocess.run(command(probe, speed), env=ENVIRONMENT, capture_output=True, check=True, timeout=300)
    total_changes = len(changes(probe))
    total_events = events(probe)
    points = [(f"after change {k}", lambda s, k=k: len(changes(s)) >= k) for k in range(total_changes)]
    step = max(1, total_events // 20)
    points += [(f"after event {n}", lambda s, n=n: events(s) >= n) for n in range(1, total_events, step)]
    points = points[:limit] if limit else points
    rounds = []
    for number, (name, reached) in enumerate(points):
        state = work / f"kill-{number}"
        problems: list[str] = []
        first_seen: dict[str, bytes] = {}
        landed = kill_when(state, speed, reached)
        check_files(state, first_seen, problems, finished=False)
        double = number % 4 == 0  # every fourth round: killed again right after it restarts
        if double and landed:
            before = events(state)
            kill_when(state, speed, lambda s, before=before: events(s) >= before + 3)
        how = finish(state, speed, first_seen, problems)
        once_only(state, problems)
        rounds.append({"point": name, "killed": landed, "double": double and landed, "how": how, "problems": problems})
        shutil.rmtree(state, ignore_errors=True)
    return rounds


DAMAGES = {
    "deleted": lambda path: path.unlink(),
    "cut to half": lambda path: path.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2]),
    "garbage": lambda path: path.write_bytes(b"\x00\xff{[: not: [valid\n"),
    "emptied": lambda path: path.write_bytes(b""),
}
DAMAGED_FILES = (
    "talos/secrets.yaml",
    "talos/talosconfig",
    "talos/controlplane.yaml",
    "talos/.inputs",
    "talos/applied/cp-1.json",
    "talos/bootstrapped.json",
    "kubeconfig",
    "vault-init.json",
    "simulation.jsonl",
    "RUN_JOURNAL",
    "platform-patch:talos/patches/all.yaml",
)


def damage_rounds(work: Path, speed: str) -> list[dict]:
    base = work / "installed"
    subprocess.run(command(base, speed), env=ENVIRONMENT, capture_output=True, check=True, timeout=300)
    secrets_text = [v for v in json.loads((base / "vault-init.json").read_text())["unseal_keys"]]
    secrets_text.append(json.loads((base / "vault-init.json").read_text())["root_token"])
    rounds = []
    for name in DAMAGED_FILES:
        for damage, apply in DAMAGES.items():
            state = work / "damaged"
            shutil.rmtree(state, ignore_errors=True)
            shutil.copytree(base, state)
            relative = name.split(":", 1)[-1]
            if name == "RUN_JOURNAL":
                relative = str(next((state / "runs").glob("*/events.jsonl")).relative_to(state))
            bundle_before = (state / "talos/secrets.yaml").read_bytes()
            apply(state / relative)
            result = subprocess.run(
                command(state, speed),
                env=ENVIRONMENT,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=300,
            )
            problems = []
            output = (
                result.stdout
                + result.stderr
                + "".join(p.read_text(errors="replace") for p in (state / "runs").glob("*/events.jsonl"))
            )
            if "Traceback" in result.stderr:
                problems.append("traceback")
            if any(value in output for value in secrets_text):
                problems.append("a Vault key or token shown")
            if result.returncode not in (0, 1, 2):
                problems.append(f"exit {result.returncode}")
            named = relative.rsplit("/", 1)[-1] in output or "simulation journal" in output
            if result.returncode != 0 and not named:
                problems.append("the message does not name the file")
            bundle = state / "talos/secrets.yaml"
            if relative != "talos/secrets.yaml" and bundle.exists() and bundle.read_bytes() != bundle_before:
                problems.append("the secrets bundle changed")
            if relative == "talos/secrets.yaml" and result.returncode == 0:
                problems.append("a damaged or missing bundle was accepted")
            kinds = Counter(e["change"] for e in changes(state))
            if kinds["bootstrap"] > 1 or kinds["vault_initialize"] > 1:
                problems.append(f"once-only repeated: {dict(kinds)}")
            rounds.append(
                {
                    "file": relative if name != "RUN_JOURNAL" else "runs/<run>/events.jsonl",
                    "damage": damage,
                    "exit": result.returncode,
                    "problems": problems,
                }
            )
    shutil.rmtree(work / "damaged", ignore_errors=True)
    return rounds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=0, help="at most this many kill rounds (0: all points)")
    parser.add_argument("--no-kills", action="store_true", help="damage rounds only")
    parser.add_argument("--damage", action="store_true", help="also run the damage rounds")
    parser.add_argument("--speed", default="inf", help="simulated seconds per real second (default inf)")
    parser.add_argument("--out", help="write every round as JSON to this file")
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="state-sweep-") as folder:
        work = Path(folder)
        kills = [] if args.no_kills else kill_rounds(work, args.speed, args.kills)
        damaged = damage_rounds(work, args.speed) if args.damage else []
    elapsed = time.monotonic() - started
    if args.out:
        Path(args.out).write_text(json.dumps({"kills": kills, "damage": damaged}, indent=1) + "\n")
    if kills:
        landed = [r for r in kills if r["killed"]]
        print(
            f"kill rounds: {len(kills)} ({len(landed)} kills landed, {sum(r['double'] for r in kills)} double), "
            f"speed {args.speed}"
        )
        for how, number in Counter(r["how"] for r in kills).items():
            print(f"  {how}: {number}")
        for r in kills:
            if r["problems"]:
                print(f"  PROBLEM {r['point']}: {'; '.join(r['problems'])}")
    if damaged:
        print(f"damage rounds: {len(damaged)} ({len(DAMAGED_FILES)} files x {len(DAMAGES)} damages)")
        print("  | file | " + " | ".join(DAMAGES) + " |")
        print("  |---|" + "---|" * len(DAMAGES))
        by_file: dict[str, dict[str, str]] = {}
        for r in damaged:
            cell = f"exit {r['exit']}" + (" **" + ", ".join(r["problems"]) + "**" if r["problems"] else "")
            by_file.setdefault(r["file"], {})[r["damage"]] = cell
        for file, cells in by_file.items():
            print(f"  | `{file}` | " + " | ".join(cells.get(d, "") for d in DAMAGES) + " |")
    bad = sum(bool(r["problems"]) for r in kills + damaged)
    print(f"{bad} rounds with problems; {elapsed:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
