"""Layer 0 on metal, up to the configured nodes: preflight, the secrets bundle, machine configs,
applying them, and the talosconfig endpoints."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from talos_platform.engine.config.models import Node, Role
from talos_platform.engine.config.versions import TalosFeatures, VersionError, minor
from talos_platform.engine.drivers import talosctl
from talos_platform.engine.drivers.protocols import TalosNodeFacts
from talos_platform.engine.errors import PermanentError, TransientError
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.plan.step import Action, CheckResult

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.plan.context import StepContext

REQUIRED_TOOLS = ("talosctl", "kubectl", "helm")
POLL_SECONDS = 5.0


# --- preflight ------------------------------------------------------------------------------------


class ToolsPreflight(BaseStep):
    """talosctl, kubectl and helm are installed; their versions are reported."""

    layer = 0
    timeout: float = 60

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(config, step_id="L0.preflight.tools", title="Check talosctl, kubectl and helm")

    def inputs(self) -> Any:
        return {"tools": list(REQUIRED_TOOLS), "talos": self.config.cluster.talos_version}

    async def _check(self, ctx: StepContext) -> CheckResult:
        versions: dict[str, str] = {"talosctl": await ctx.drivers.talos.client_version()}
        if ctx.drivers.tools is not None:
            for tool in REQUIRED_TOOLS:
                versions[tool] = versions.get(tool) or await ctx.drivers.tools.version(tool)
        missing = [tool for tool, version in versions.items() if not version]
        if missing:
            raise PermanentError(
                f"missing tools: {', '.join(missing)}",
                hint="install " + ", ".join(missing) + " and make sure they are on PATH",
            )
        self._check_talosctl_is_new_enough(versions["talosctl"])
        summary = ", ".join(f"{tool} {version}" for tool, version in versions.items())
        ctx.output(summary)
        return done(summary, versions=versions)

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        from talos_platform.engine.drivers.real import tool_version_argv

        need = TalosFeatures.for_version(self.config.cluster.talos_version).contract
        return (
            Action(
                f"ask talosctl for its version (it must be {need} or newer)",
                command=tuple(talosctl.version_client_argv()),
            ),
            *(
                Action(f"ask {tool} for its version", command=tuple(tool_version_argv(tool)))
                for tool in REQUIRED_TOOLS[1:]
            ),
        )

    def _check_talosctl_is_new_enough(self, client: str) -> None:
        """talosctl renders configs for its own version or older ones (`--talos-version`), never
        for newer nodes: an older talosctl must be replaced before anything is generated."""
        nodes = self.config.cluster.talos_version
        try:
            too_old = minor(client.split("-")[0].split("+")[0]) < minor(nodes)
        except VersionError:
            return  # a development build: let talosctl itself judge
        if too_old:
            raise PermanentError(
                f"talosctl {client} is older than the nodes' Talos {nodes}",
                hint=f"install talosctl {TalosFeatures.for_version(nodes).contract} or newer (it may be newer than "
                "the nodes)",
            )


PREFLIGHT_ROUNDS = 3


async def maintenance_or_configured(ctx: StepContext, address: str) -> TalosNodeFacts:
    """Ask the maintenance API first; a node that answers there is waiting for its config.
    Otherwise ask with our talosconfig (the node may already be configured by an earlier run).

    A node that boots (or reboots) between the two questions gives answers that contradict each
    other: silent on the first, answering but refusing our certificates on the second looks
    exactly like a node of another cluster. So a "foreign" verdict stands only when both
    questions agree the node answers; otherwise it asks again, and after a few contradictory
    rounds reports the node as not answering yet (a retry, never a refusal)."""
    facts = TalosNodeFacts(address=address, reachable=False)
    for _ in range(PREFLIGHT_ROUNDS):
        facts = await ctx.drivers.talos.node_facts(address, insecure=True)
        if facts.reachable and facts.maintenance:
            return facts
        configured = await ctx.drivers.talos.node_facts(address, insecure=False)
        if configured.reachable and configured.cluster_name:
            return configured
        if facts.reachable == configured.reachable:
            # Unreachable both ways, or answering both ways but refusing our certificates.
            return configured if configured.reachable else facts
    return TalosNodeFacts(
        address=address,
        reachable=False,
        error=f"its answers changed while it was asked {PREFLIGHT_ROUNDS} times (booting or rebooting?)",
    )


def read_applied_config(ctx: StepContext, node: Node) -> dict[str, Any] | None:
    """The record `ApplyConfig` wrote when this node took its config (None: never, or unreadable)."""
    try:
        record = json.loads(ctx.state.applied_config_marker(node.name).read_text())
    except (FileNotFoundError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def maintenance_read(config: PlatformConfig, node: Node, why: str) -> Action:
    """The first read `maintenance_or_configured` makes: the node's disks, over the maintenance API
    (a node waiting for its config answers there)."""
    address = config.node_ip(node)
    return Action(
        f"ask {node.name} ({address}) for its disks in maintenance mode; {why}",
        command=tuple(talosctl.get_argv("disks", address, insecure=True, talosconfig=None)),
    )


class NodePreflight(BaseStep):
    """The node answers on the Talos API, in maintenance mode with its install disk present, or
    already configured as a member of this cluster."""

    layer = 0
    timeout: float = 120

    def __init__(self, config: PlatformConfig, node: Node) -> None:
        super().__init__(config, step_id=f"L0.preflight.node.{node.name}", title=f"Check node {node.name}")
        self.node = node

    def inputs(self) -> Any:
        return {"node": self.node, "cluster": self.config.cluster.name}

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        return (maintenance_read(self.config, self.node, f"it must list {self.node.install_disk}"),)

    async def _check(self, ctx: StepContext) -> CheckResult:
        address = self.config.node_ip(self.node)
        facts = await maintenance_or_configured(ctx, address)
        where = f"node {self.node.name} ({address})"
        if not facts.reachable and read_applied_config(ctx, self.node) is not None:
            return done(
                f"{where} took this cluster's config in an earlier run and does not answer while it installs "
                "or reboots; applying its config waits for it"
            )
        if not facts.reachable:
            raise TransientError(
                f"{where} does not answer on the Talos API (port 50000): {facts.error or 'no answer'}",
                hint="boot the machine from the Talos ISO/PXE image, check the address in `nodes[].address` "
                "and that this computer can reach it",
            )
        if facts.maintenance:
            if facts.disks and self.node.install_disk not in facts.disks:
                raise PermanentError(
                    f"{where} has no disk {self.node.install_disk}; it has {', '.join(facts.disks)}",
                    hint=f"set `installDisk` of node {self.node.name} to one of: {', '.join(facts.disks)}",
                )
            return done(f"{where} waits in maintenance mode; disk {self.node.install_disk} present", maintenance=True)
        if not facts.cluster_name:
            raise PermanentError(
                f"{where} is already configured, and not with this cluster's keys: {facts.error or 'access refused'}",
                hint="it belongs to another cluster; wipe it (`talosctl reset`) or boot it from the Talos image "
                "to reach maintenance mode, or remove it from `nodes`",
            )
        if facts.cluster_name != self.config.cluster.name:
            raise PermanentError(
                f"{where} belongs to cluster {facts.cluster_name!r}, not {self.config.cluster.name!r}",
                hint="check the address, or reset that node before adding it to this cluster",
            )
        return done(
            f"{where} is already configured for cluster {facts.cluster_name} (stage {facts.stage or 'unknown'})"
        )


class VipPreflight(BaseStep):
    """Before the cluster exists, nothing may answer on the VIP (else two machines would fight
    over it). Once the control planes are configured the VIP answering is expected."""

    layer = 0
    timeout: float = 60

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(
            config,
            step_id="L0.preflight.vip",
            title=f"Check the VIP {config.cluster.vip} is free",
            needs=tuple(f"L0.preflight.node.{n.name}" for n in config.control_planes),
        )

    def inputs(self) -> Any:
        return {"vip": self.config.cluster.vip, "control_planes": [n.address for n in self.config.control_planes]}

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        vip = self.config.cluster.vip
        ports = (talosctl.TALOS_API_PORT, talosctl.KUBERNETES_API_PORT)
        return (
            *(
                maintenance_read(self.config, node, "the VIP is only checked while every control plane waits")
                for node in self.config.control_planes
            ),
            Action(
                f"nothing may answer on the VIP {vip} yet",
                api_call="TCP connect " + ", ".join(f"{vip}:{port}" for port in ports) + " (each must fail)",
            ),
            Action(f"nothing may answer a ping on the VIP {vip} either", command=tuple(talosctl.ping_argv(str(vip)))),
        )

    async def _check(self, ctx: StepContext) -> CheckResult:
        vip = self.config.cluster.vip
        assert vip
        for node in self.config.control_planes:
            facts = await ctx.drivers.talos.node_facts(self.config.node_ip(node), insecure=True)
            if not (facts.reachable and facts.maintenance):
                return done(f"control plane {node.name} is already configured; the VIP {vip} may answer")
        if await ctx.drivers.talos.address_answers(vip):
            raise PermanentError(
                f"the VIP {vip} is already in use: something answers on it before the cluster exists",
                hint="choose an unused address in the control planes' subnet (outside DHCP ranges) for `cluster.vip`",
            )
        return done(f"nothing answers on the VIP {vip}")


# --- secrets bundle and machine configs -----------------------------------------------------------


def bundle_scratch(path: Path) -> Path:
    """Where talosctl writes the bundle before it is stored 0600 (talosctl sets its own mode)."""
    return path.with_name(f".{path.name}.new")


# What every Talos secrets bundle holds (`talosctl gen secrets`): the cluster's identity, its
# tokens, and the CAs (the service account has a key only).
BUNDLE_FIELDS = (
    ("cluster", "id"),
    ("cluster", "secret"),
    ("secrets", "bootstraptoken"),
    ("trustdinfo", "token"),
    ("certs", "etcd", "crt"),
    ("certs", "etcd", "key"),
    ("certs", "k8s", "crt"),
    ("certs", "k8s", "key"),
    ("certs", "k8saggregator", "crt"),
    ("certs", "k8saggregator", "key"),
    ("certs", "k8sserviceaccount", "key"),
    ("certs", "os", "crt"),
    ("certs", "os", "key"),
)
BUNDLE_WHAT = "the Talos secrets bundle (the cluster's PKI)"


def bundle_problem(data: Any) -> str:
    """What is wrong with a parsed secrets bundle ("" when it has every expected field)."""
    if not isinstance(data, dict):
        return "it is not a YAML mapping"
    missing = []
    for path in BUNDLE_FIELDS:
        value: Any = data
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if not isinstance(value, str) or not value.strip():
            missing.append(".".join(path))
    if missing:
        shown = ", ".join(missing[:4]) + (f" and {len(missing) - 4} more" if len(missing) > 4 else "")
        return f"it lacks {shown} (cut short, or not a secrets bundle)"
    return ""


def bundle_users(ctx: StepContext) -> list[str]:
    """What on this machine shows the bundle was already used: machine configs generated from
    it, nodes sent one, etcd bootstrapped. Empty: a new bundle may still be generated."""
    folder: Path = ctx.state.talos_dir
    users = [
        f"{folder / name} was generated from it"
        for name in ("controlplane.yaml", "worker.yaml")
        if (folder / name).exists()
    ]
    applied = sorted(p.stem for p in (folder / "applied").glob("*.json")) if (folder / "applied").is_dir() else []
    if applied:
        users.append(f"node{'s' if len(applied) > 1 else ''} {', '.join(applied)} took a machine config made from it")
    if ctx.state.bootstrap_marker.exists():
        users.append("the cluster was bootstrapped with it")
    return users


def bundle_recovery(ctx: StepContext, config: PlatformConfig) -> str:
    """How to get the bundle back: its backup, else extracted from a control plane's config."""
    path: Path = ctx.state.talos_secrets
    backups = ctx.state.backups_of(path)
    if backups:
        return f"restore it from its backup: cp -p {backups[-1]} {path}"
    local = ctx.state.talos_dir / "controlplane.yaml"
    extract = f"talosctl gen secrets --from-controlplane-config {{}} --output-file {path} && chmod 600 {path}"
    steps = []
    if local.exists():
        steps.append(f"extract it from the control plane config kept here: {extract.format(local)}")
    first_cp = config.node_ip(config.control_planes[0]) if config.control_planes else "CP"
    fetched = path.with_name("controlplane-from-node.yaml")
    steps.append(
        f"{'or ' if steps else ''}extract it from a running control plane's config: talosctl --talosconfig "
        f"{ctx.state.talosconfig} --nodes {first_cp} get machineconfig v1alpha1 -o jsonpath='{{.spec}}' > {fetched} "
        f"(keep only its `version: v1alpha1` document), then {extract.format(fetched)}"
    )
    return "; ".join(steps) + ". Never generate a new one: it would match nothing the cluster runs"


class SecretsBundle(BaseStep):
    """The Talos secrets bundle (the cluster's PKI): generated once, never overwritten, checked
    on every run. Once anything used it, a missing or damaged bundle stops the install: a new
    one would be a new PKI that matches nothing running."""

    layer = 0
    timeout: float = 60

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(config, step_id="L0.secrets", title="Generate the Talos secrets bundle")

    def inputs(self) -> Any:
        return None  # deliberately independent of the config: the bundle must never change

    async def _check(self, ctx: StepContext) -> CheckResult:
        path: Path = ctx.state.talos_secrets
        if path.exists() or path.is_symlink():
            self._verify(ctx)
            return done(
                f"the secrets bundle exists at {path}, and holds the cluster's certificates and keys; it is kept"
            )
        users = bundle_users(ctx)
        if users:
            raise PermanentError(
                f"{BUNDLE_WHAT} {path} is missing, but this cluster already uses it: {'; '.join(users)}",
                hint=bundle_recovery(ctx, self.config),
            )
        return todo("no secrets bundle yet", *self.planned_actions(ctx))

    def _verify(self, ctx: StepContext) -> None:
        from talos_platform.engine.secret_files import SecretFileDamaged, read_yaml_secret

        path: Path = ctx.state.talos_secrets
        try:
            data = read_yaml_secret(path, BUNDLE_WHAT)
        except FileNotFoundError:  # a dangling link
            data, problem = None, "it is a link to a file that does not exist"
        except SecretFileDamaged as error:
            raise PermanentError(error.message, hint=bundle_recovery(ctx, self.config)) from None
        else:
            problem = bundle_problem(data)
        if problem:
            raise PermanentError(f"{BUNDLE_WHAT} {path} is damaged: {problem}", hint=bundle_recovery(ctx, self.config))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        path: Path = ctx.state.talos_secrets
        return (
            Action(
                f"generate the secrets bundle, then keep it 0600 as {path}",
                command=tuple(talosctl.gen_secrets_argv(bundle_scratch(path))),
            ),
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        path: Path = ctx.state.talos_secrets
        if path.exists() or bundle_users(ctx):
            return  # never a second bundle (check would have said why)
        path.parent.mkdir(parents=True, exist_ok=True)
        scratch = bundle_scratch(path)
        scratch.unlink(missing_ok=True)
        try:
            await ctx.drivers.talos.generate_secrets(scratch)
            ctx.state.write_secret(path, scratch.read_bytes())
        finally:
            scratch.unlink(missing_ok=True)


PATCH_ALL, PATCH_CONTROL_PLANE, PATCH_WORKER = "all.yaml", "controlplane.yaml", "worker.yaml"


def node_patch_names(config: PlatformConfig, patches: dict[str, str]) -> dict[str, str]:
    """Per-node patches among the rendered ones: a file named after the node (`cp-1.yaml`,
    `nodes/cp-1.yaml`) -> node name."""
    names = {node.name for node in config.nodes}
    found = {}
    for key in patches:
        if key in (PATCH_ALL, PATCH_CONTROL_PLANE, PATCH_WORKER):
            continue
        stem = Path(key).name.removesuffix(".yaml")
        if stem in names:
            found[key] = stem
    return found


def rendered_patches(config: PlatformConfig) -> dict[str, str]:
    from talos_platform.engine.render import talos_patches

    return talos_patches(config)


def patches_dir(ctx: StepContext) -> Path:
    return ctx.state.talos_dir / "patches"


def node_patch_files(ctx: StepContext, config: PlatformConfig, node: Node) -> tuple[Path, ...]:
    patches = rendered_patches(config)
    return tuple(patches_dir(ctx) / key for key, name in node_patch_names(config, patches).items() if name == node.name)


class MachineConfigs(BaseStep):
    """controlplane.yaml, worker.yaml and talosconfig, from the secrets bundle and the rendered
    patches, for the nodes' Talos version."""

    layer = 0
    timeout: float = 120
    digest_file = ".inputs"

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(
            config, step_id="L0.machine-configs", title="Generate the Talos machine configs", needs=("L0.secrets",)
        )

    def inputs(self) -> Any:
        return {"cluster": self.config.cluster, "nodes": self.config.nodes}

    def _arguments(self, ctx: StepContext) -> dict[str, Any]:
        folder = patches_dir(ctx)
        return dict(
            cluster_name=self.config.cluster.name,
            endpoint=f"https://{self.config.api_endpoint_host}:6443",
            secrets=ctx.state.talos_secrets,
            talos_version=self.config.cluster.talos_version,
            kubernetes_version=self.config.cluster.kubernetes_version,
            patches_all=folder / PATCH_ALL,
            patches_control_plane=folder / PATCH_CONTROL_PLANE,
            patches_worker=folder / PATCH_WORKER,
            output_dir=ctx.state.talos_dir,
        )

    def _digest(self, patches: dict[str, str]) -> str:
        text = "\n".join(f"{key}\n{patches[key]}" for key in sorted(patches))
        return hashlib.sha256((self.input_digest() + text).encode()).hexdigest()

    async def _check(self, ctx: StepContext) -> CheckResult:
        from talos_platform.engine.render.encryption_at_rest import patch_problems

        patches = rendered_patches(self.config)
        touching = patch_problems(patches)
        if touching:
            raise PermanentError("; ".join(f"{p.path}: {p.message}" for p in touching), hint=touching[0].hint)
        folder: Path = ctx.state.talos_dir
        outputs = [folder / "controlplane.yaml", folder / "worker.yaml", folder / "talosconfig"]
        marker = folder / self.digest_file
        if (
            all(p.exists() for p in outputs)
            and marker.exists()
            and marker.read_bytes().strip() == self._digest(patches).encode()
        ):
            unencrypted = self._encryption_problem(ctx)
            if not unencrypted:
                return done("machine configs are up to date with the config and patches", patches=patches)
            return todo(
                f"the control-plane config would leave Secrets unencrypted ({unencrypted}); generating it again",
                *self._actions(ctx, patches),
                patches=patches,
            )
        return todo("machine configs are missing or the config changed", *self._actions(ctx, patches), patches=patches)

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        return self._actions(ctx, rendered_patches(self.config))

    def _actions(self, ctx: StepContext, patches: dict[str, str]) -> tuple[Action, ...]:
        argv = talosctl.gen_config_argv(**self._arguments(ctx))
        return (
            Action(f"write the Talos patches ({', '.join(sorted(patches))}) into {patches_dir(ctx)}"),
            Action(
                f"generate machine configs for Talos {self.config.cluster.talos_version} into {ctx.state.talos_dir}",
                command=tuple(argv),
            ),
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        from talos_platform.engine.files import atomic_write

        patches: dict[str, str] = check.facts.get("patches") or rendered_patches(self.config)
        folder = patches_dir(ctx)
        for key, text in patches.items():
            target = folder / key
            target.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(target, text.encode(), mode=0o600)
        for required in (PATCH_ALL, PATCH_CONTROL_PLANE, PATCH_WORKER):
            if required not in patches:
                atomic_write(folder / required, b"{}\n", mode=0o600)
        await ctx.drivers.talos.generate_config(**self._arguments(ctx))
        for name in ("controlplane.yaml", "worker.yaml", "talosconfig"):
            path = ctx.state.talos_dir / name
            if path.exists():
                path.chmod(0o600)
        generated = ctx.state.talos_dir / "talosconfig"
        if generated.exists() and Path(ctx.state.talosconfig) != generated:
            ctx.state.write_secret(ctx.state.talosconfig, generated.read_bytes(), overwrite=True)
        self._ensure_secrets_encrypted(ctx)
        atomic_write(ctx.state.talos_dir / self.digest_file, self._digest(patches).encode(), mode=0o600)

    def _encryption_problem(self, ctx: StepContext) -> str:
        from talos_platform.engine.render.encryption_at_rest import machine_config_problem

        features = TalosFeatures.for_version(self.config.cluster.talos_version)
        return machine_config_problem((ctx.state.talos_dir / "controlplane.yaml").read_text(), features)

    def _ensure_secrets_encrypted(self, ctx: StepContext) -> None:
        """Refuse a control-plane config without the key that makes the API server encrypt Secrets
        in etcd: nodes given it would keep every Secret in plain text."""
        from talos_platform.engine.render.encryption_at_rest import BUNDLE_KEYS, bundle_has_key

        path = ctx.state.talos_dir / "controlplane.yaml"
        problem = self._encryption_problem(ctx)
        if not problem:
            return
        bundle: Path = ctx.state.talos_secrets
        try:
            has_key = bundle_has_key(yaml.safe_load(bundle.read_text()))
        except (OSError, yaml.YAMLError):
            has_key = True  # unreadable here: the bundle step reports that; blame the config
        if has_key:
            hint = (
                f"the secrets bundle {bundle} holds the key, so a patch in {patches_dir(ctx)} or talosctl "
                "dropped it: compare them with `talos-platform render` and run again"
            )
        else:
            hint = (
                f"the secrets bundle {bundle} has no `secrets.{BUNDLE_KEYS[0]}` (`talosctl gen secrets` writes "
                "one): add 32 random bytes, base64-encoded (`head -c 32 /dev/urandom | base64`), keep the file "
                "0600, and run again"
            )
        raise PermanentError(f"the control-plane config {path} would leave Secrets unencrypted: {problem}", hint=hint)


# --- applying configs -----------------------------------------------------------------------------


class ApplyConfig(BaseStep):
    """Send the node its machine config (insecure while it waits in maintenance mode)."""

    layer = 0
    timeout: float = 900  # install to disk and reboot
    reapply_when_inputs_change = True  # a configured node gets a changed config securely

    def __init__(self, config: PlatformConfig, node: Node) -> None:
        super().__init__(
            config,
            step_id=f"L0.apply-config.{node.name}",
            title=f"Apply the machine config to {node.name}",
            needs=("L0.machine-configs", f"L0.preflight.node.{node.name}"),
        )
        self.node = node

    def inputs(self) -> Any:
        return {"node": self.node, "cluster": self.config.cluster}

    def _config_file(self, ctx: StepContext) -> Path:
        name = "controlplane.yaml" if self.node.role is Role.control_plane else "worker.yaml"
        return ctx.state.talos_dir / name

    async def _check(self, ctx: StepContext) -> CheckResult:
        address = self.config.node_ip(self.node)
        facts = await maintenance_or_configured(ctx, address)  # a node booting meanwhile is asked again
        if not (facts.reachable and facts.maintenance):
            if facts.reachable and facts.cluster_name == self.config.cluster.name:
                return done(
                    f"{self.node.name} already runs this cluster's config (stage {facts.stage})", configured=True
                )
            applied = read_applied_config(ctx, self.node)
            if not facts.reachable and applied is not None and applied.get("digest") == self._sent_digest(ctx):
                return todo(
                    f"{self.node.name} took this config at {applied.get('at', 'an earlier run')} and does not answer "
                    "while it installs or reboots; waiting for it, not applying again",
                    self.planned_actions(ctx)[-1],
                    applied=True,
                )
            if not facts.reachable:
                raise TransientError(
                    f"node {self.node.name} ({address}) does not answer on the Talos API",
                    hint="check the machine is powered on and booted from the Talos image",
                )
            raise PermanentError(
                f"node {self.node.name} ({address}) is neither in maintenance mode nor part of this cluster",
                hint="reset the node (`talosctl reset`) or boot it from the Talos image, then run again",
            )
        return todo(f"{self.node.name} waits in maintenance mode", *self.planned_actions(ctx))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        """A node waiting in maintenance mode gets its config without certificates, then comes
        back as a member of this cluster."""
        address = self.config.node_ip(self.node)
        patches = node_patch_files(ctx, self.config, self.node)
        argv = talosctl.apply_config_argv(
            address, self._config_file(ctx), insecure=True, talosconfig=ctx.state.talosconfig, patches=patches
        )
        wait = talosctl.get_argv("info", address, insecure=False, talosconfig=ctx.state.talosconfig)
        return (
            Action(f"apply the {self.node.role.value} config to {self.node.name} ({address})", command=tuple(argv)),
            Action(
                f"wait until {self.node.name} installed, rebooted and answers as a member of "
                f"{self.config.cluster.name} "
                f"(asked every {POLL_SECONDS:g}s)",
                command=tuple(wait),
            ),
        )

    def _sent_digest(self, ctx: StepContext) -> str:
        """What this node gets: its config file and per-node patches, as bytes."""
        digest = hashlib.sha256()
        for path in (self._config_file(ctx), *node_patch_files(ctx, self.config, self.node)):
            digest.update(path.read_bytes() if path.exists() else b"")
        return digest.hexdigest()

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        if check.facts.get("applied"):
            ctx.output(f"{self.node.name} took its config in an earlier run: waiting for it instead of applying again")
            return
        address = self.config.node_ip(self.node)
        patches = node_patch_files(ctx, self.config, self.node)
        # Configured already (we only get here then because the config changed): apply the new
        # config with our certificates; Talos applies it in place or reboots as needed.
        insecure = not check.facts.get("configured")
        # Recorded before sending: a kill right after the node took it must find the record,
        # and a node that has it goes silent at once (it installs). Removed if the send fails.
        marker = ctx.state.applied_config_marker(self.node.name)
        record = {
            "node": self.node.name,
            "address": address,
            "digest": self._sent_digest(ctx),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        ctx.state.write_file(marker, json.dumps(record, sort_keys=True) + "\n", mode=0o600)
        try:
            await ctx.drivers.talos.apply_config(address, self._config_file(ctx), insecure=insecure, patches=patches)
        except Exception:  # the node answered with a failure (an interrupt may have got through: kept)
            marker.unlink(missing_ok=True)
            raise

    async def _wait(self, ctx: StepContext) -> None:
        """Until the node answers with our certificates, i.e. it installed and rebooted into the
        config (Talos offers no watch here, so this polls)."""
        address = self.config.node_ip(self.node)
        left_maintenance = [False]

        async def configured() -> None:
            while True:
                facts = await ctx.drivers.talos.node_facts(address, insecure=False)
                if facts.reachable and facts.cluster_name == self.config.cluster.name:
                    ctx.output(f"{self.node.name} is up with the new config (stage {facts.stage})")
                    return
                if not facts.reachable or facts.stage not in ("", "maintenance"):
                    left_maintenance[0] = True  # installing or rebooting
                elif left_maintenance[0] and not facts.stage:
                    # It answers again, but not with our certificates: back in maintenance mode?
                    await self._fail_if_back_in_maintenance(ctx, address)
                await ctx.clock.sleep(POLL_SECONDS)

        try:
            await ctx.clock.wait_for(configured(), self.wait_budget)
        except TimeoutError:
            marker = ctx.state.applied_config_marker(self.node.name)
            raise PermanentError(
                f"node {self.node.name} ({address}) did not come back with its config within {self.timeout:g}s",
                hint=f"watch its console or `talosctl -n {address} --insecure get machinestatus` (it answers there "
                "if it fell back to maintenance mode): a wrong install disk or a network that does not come up are "
                f"common causes; if the machine was reset or replaced since, delete {marker} and run again",
            ) from None

    async def _fail_if_back_in_maintenance(self, ctx: StepContext, address: str) -> None:
        """The node took its config, went away to install, and came back asking for a config:
        the install failed and the outcome is known, so say why now instead of timing out."""
        facts = await ctx.drivers.talos.node_facts(address, insecure=True)
        if not (facts.reachable and facts.maintenance):
            return
        raise PermanentError(
            f"node {self.node.name} ({address}) took its config but is back in maintenance mode: "
            + (facts.error or "its install failed"),
            hint=f"read why with `talosctl -n {address} --insecure get machinestatus -o yaml` and compare the disks it "
            f"has (`talosctl -n {address} --insecure get disks`) with its install disk in the config "
            f"(`installDisk: {self.node.install_disk}` of {self.node.name}); fix the config or the machine, then run "
            "the install again (a node in maintenance mode takes its config again)",
        )


class TalosconfigEndpoints(BaseStep):
    """talosctl talks to the control planes' own IPs, never the VIP (the VIP follows etcd and
    disappears exactly when you need talosctl most)."""

    layer = 0
    timeout: float = 30

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(
            config,
            step_id="L0.talosconfig-endpoints",
            title="Point talosconfig at the control planes",
            needs=("L0.machine-configs",),
        )

    def _endpoints(self) -> list[str]:
        return [self.config.node_ip(n) for n in self.config.control_planes]

    def inputs(self) -> Any:
        return self._endpoints()

    async def _check(self, ctx: StepContext) -> CheckResult:
        endpoints = self._endpoints()
        current = talosctl.read_talosconfig_endpoints(ctx.state.talosconfig, ctx.state)
        if current == endpoints:
            return done(f"talosconfig endpoints are {', '.join(endpoints)}")
        return todo(f"talosconfig endpoints are {current or 'unset'}", *self.planned_actions(ctx))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        endpoints = self._endpoints()
        return (
            Action(
                "set talosctl endpoints", command=tuple(talosctl.config_endpoint_argv(ctx.state.talosconfig, endpoints))
            ),
            Action(
                "set talosctl default nodes", command=tuple(talosctl.config_node_argv(ctx.state.talosconfig, endpoints))
            ),
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        endpoints = self._endpoints()
        await ctx.drivers.talos.set_endpoints(ctx.state.talosconfig, endpoints, endpoints)
