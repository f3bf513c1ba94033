"""An install over fake steps that write real files, for the kill -9 test.

    python kill_resume_install.py STATE_DIR LEDGER

Each step writes its files into the state directory through the engine's atomic writers and
records `start <id>` / `end <id>` in an append-only ledger (fsynced). Checks are honest: a step
is done exactly when all its files exist with the content it would write. Contents derive from
the Talos-like secrets bundle (random, written once), so a regenerated secret would show up as
every later file being wrong. Exit code: the engine's outcome (0, 1, 130).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets as random_bytes
import sys
from dataclasses import dataclass
from pathlib import Path

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.drivers.protocols import Drivers
from talos_platform.engine.plan.step import Action, CheckResult
from talos_platform.engine.session import InstallSession
from talos_platform.engine.state import StateDirectory
from talos_platform.headless import OUTCOME_EXIT_CODES, run_with_signals

SECRET_STEPS = {"L0.secrets": "talos/secrets.yaml", "L3.vault-init": "vault-init.json"}


class Ledger:
    def __init__(self, path: Path):
        self.path = path

    def record(self, line: str) -> None:
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(descriptor, f"{os.getpid()} {line}\n".encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def expected_content(state: StateDirectory, step_id: str, name: str) -> bytes | None:
    """What a derived file must hold: a function of the secrets bundle (None if it is missing)."""
    try:
        bundle = state.talos_secrets.read_bytes()
    except FileNotFoundError:
        return None
    digest = hashlib.sha256(bundle + step_id.encode() + name.encode()).hexdigest()
    return (f"# {step_id} {name}\n" + f"value: {digest}\n" * 40).encode()


@dataclass(eq=False)
class FileStep:
    id: str
    layer: int
    files: tuple[str, ...]
    ledger: Ledger
    needs: tuple[str, ...] = ()
    timeout: float = 30.0
    title: str = ""
    pause: float = 0.02

    def input_digest(self) -> str:
        return "v1"

    def _missing(self, state: StateDirectory) -> list[str]:
        missing = []
        for name in self.files:
            path = state.root / name
            if self.id in SECRET_STEPS:
                if not path.exists() or not path.read_bytes().startswith(b"random:"):
                    missing.append(name)
            elif not path.exists() or path.read_bytes() != expected_content(state, self.id, name):
                missing.append(name)
        return missing

    async def check(self, ctx) -> CheckResult:
        missing = self._missing(ctx.state)
        if not missing:
            return CheckResult(reason="all files in place")
        return CheckResult(actions=tuple(Action(f"write {name}") for name in missing), reason="files missing")

    async def apply(self, ctx, check: CheckResult) -> None:
        # How many of its files were missing when apply began: 0 would mean applying a step
        # whose effects were all in place, i.e. applying it twice.
        self.ledger.record(f"start {self.id} {len(self._missing(ctx.state))}")
        for name in self.files:
            await asyncio.sleep(self.pause)
            if self.id in SECRET_STEPS:
                ctx.state.write_secret(name, b"random:" + random_bytes.token_hex(512).encode())
            else:
                ctx.state.write_file(name, expected_content(ctx.state, self.id, name))
            ctx.output(f"wrote {name}")
        await asyncio.sleep(self.pause)
        self.ledger.record(f"end {self.id}")

    async def wait(self, ctx) -> None:
        await asyncio.sleep(self.pause / 2)


def install_steps(ledger: Ledger) -> list[FileStep]:
    def step(step_id, layer, files, needs=()):
        return FileStep(step_id, layer, tuple(files), ledger, tuple(needs), title=step_id)

    nodes = ("cp-1", "cp-2", "cp-3", "worker-1")
    steps = [
        step("L0.secrets", 0, ["talos/secrets.yaml"]),
        step("L0.machine-configs", 0, [f"talos/{n}.yaml" for n in nodes], ["L0.secrets"]),
    ]
    steps += [step(f"L0.apply-config.{n}", 0, [f"nodes/{n}.applied"], ["L0.machine-configs"]) for n in nodes]
    steps += [
        step("L0.bootstrap", 0, ["etcd/bootstrapped"], ["L0.apply-config.cp-1"]),
        step("L0.kubeconfig", 0, ["kubeconfig"], ["L0.bootstrap"]),
        step("L1.gateway-crds", 1, ["cluster/gateway-crds"], ["L0.kubeconfig"]),
        step("L1.cilium", 1, ["cluster/cilium", "cluster/hubble"], ["L0.kubeconfig"]),
        step("L1.argocd", 1, ["cluster/argocd"], ["L1.cilium", "L1.gateway-crds"]),
    ]
    previous = "L1.argocd"
    for wave in (-100, -99, -98, -97, -96):
        steps.append(step(f"L2.wave{wave}", 2, [f"argocd/wave{wave}"], [previous]))
        previous = f"L2.wave{wave}"
    steps += [
        step("L3.vault-init", 3, ["vault-init.json"], [previous]),
        step("L3.vault-unseal", 3, ["vault/unsealed"], ["L3.vault-init"]),
        step("L3.monitoring", 3, ["apps/monitoring", "apps/grafana"], [previous]),
        step("L3.tunnel", 3, ["apps/tunnel"], [previous]),
        step("L4.apps", 4, ["apps/appset"], ["L3.vault-unseal", "L3.monitoring", "L3.tunnel"]),
    ]
    return steps


def main() -> int:
    state = StateDirectory(sys.argv[1])
    ledger = Ledger(Path(sys.argv[2]))
    config = PlatformConfig.model_validate(
        {
            "cluster": {"name": "killtest"},
            "nodes": [{"name": "cp-1", "address": "10.0.0.11/24", "role": "control-plane"}],
            "domain": {"base": "example.com", "acmeEmail": "ops@example.com"},
            "gitops": {"repoUrl": "https://git.example.com/platform.git"},
        }
    )
    drivers = Drivers(talos=object(), kube=object())  # the fake steps only touch the state directory
    session = InstallSession(config, Secrets(), state, drivers, steps=install_steps(ledger), concurrency=3)
    outcome = asyncio.run(run_with_signals(session))
    return OUTCOME_EXIT_CODES[outcome]


if __name__ == "__main__":
    sys.exit(main())
