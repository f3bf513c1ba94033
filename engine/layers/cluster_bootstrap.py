"""Layer 1, the one-time bootstrap: render the GitOps tree, apply `bootstrap/` (Gateway API
CRDs, Cilium, ArgoCD) server-side with CRDs first, create the bootstrap Secrets straight in the
cluster, then wait for Cilium to roll out, every node to turn Ready and ArgoCD to be Available."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talos_platform.engine.drivers import kube_client
from talos_platform.engine.drivers.protocols import (
    CRDS,
    DAEMONSETS,
    DEPLOYMENTS,
    NODES,
    STATEFULSETS,
    secret_digest,
)
from talos_platform.engine.errors import PermanentError
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.layers.planned import server_side_apply, watch_until
from talos_platform.engine.layers.waiting import Objects, WaitTimedOut, condition, condition_true, wait_for_objects
from talos_platform.engine.plan.step import Action, CheckResult

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.config.secrets import Secrets
    from talos_platform.engine.plan.context import StepContext

ARGOCD_NAMESPACE = "argocd"
CILIUM_NAMESPACE, CILIUM_DAEMONSET = "kube-system", "cilium"


# --- the rendered tree ----------------------------------------------------------------------------


def read_tree(root: Path) -> dict[str, bytes]:
    if not root.is_dir():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


class RenderRepository(BaseStep):
    """The GitOps tree ArgoCD syncs from, rendered into the state directory (no secrets)."""

    layer = 1
    timeout: float = 60

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(
            config, step_id="L1.render", title="Render the GitOps repository", needs=("L0.kubernetes-api",)
        )

    def inputs(self) -> Any:
        return self.config

    async def _check(self, ctx: StepContext) -> CheckResult:
        from talos_platform.engine.render import render_tree

        wanted = render_tree(self.config)
        if read_tree(ctx.state.rendered) == wanted:
            return done(f"the rendered tree in {ctx.state.rendered} is up to date ({len(wanted)} files)")
        return todo("the rendered tree is missing or out of date", *self._actions(ctx, wanted))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        from talos_platform.engine.render import render_tree

        return self._actions(ctx, render_tree(self.config))

    def _actions(self, ctx: StepContext, tree: dict[str, bytes]) -> tuple[Action, ...]:
        # No process and no API: the tree is written here, then swapped in as a whole folder.
        folders = sorted({path.split("/", 1)[0] for path in tree if "/" in path})
        return (
            Action(
                f"render the GitOps tree ({', '.join(folders)}) into {ctx.state.rendered}",
                api_call=f"write {len(tree)} files into {ctx.state.rendered} (this computer only; the old tree is "
                "swapped out whole)",
            ),
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        from talos_platform.engine.render import render_repository

        target: Path = ctx.state.rendered
        fresh = target.with_name(target.name + ".new")
        old = target.with_name(target.name + ".old")
        for leftover in (fresh, old):
            shutil.rmtree(leftover, ignore_errors=True)
        render_repository(self.config, fresh)
        # Swap whole folders so a crash leaves either the old tree or the new one, never a mix.
        if target.exists():
            target.rename(old)
        fresh.rename(target)
        shutil.rmtree(old, ignore_errors=True)


# --- the bootstrap kustomization ------------------------------------------------------------------


def bootstrap_dir(ctx: StepContext) -> Path:
    return ctx.state.rendered / "bootstrap"


class ApplyBootstrap(BaseStep):
    """`kubectl kustomize --enable-helm bootstrap | kubectl apply --server-side` (the driver
    applies CRDs first and waits for them), then every CRD must be Established."""

    layer = 1
    timeout: float = 300

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(
            config,
            step_id="L1.bootstrap",
            title="Apply the bootstrap (Gateway API, Cilium, ArgoCD)",
            needs=("L1.render",),
        )

    def inputs(self) -> Any:
        return {"components": self.config.components, "cluster": self.config.cluster}

    async def _check(self, ctx: StepContext) -> CheckResult:
        # Once ArgoCD runs it owns these objects (layer 2 adopts them): never apply over it again.
        present = []
        if self.config.components.argocd.enabled:
            if await ctx.drivers.kube.get(DEPLOYMENTS, "argocd-server", ARGOCD_NAMESPACE):
                present.append("ArgoCD")
        if self.config.components.cilium.enabled:
            if await ctx.drivers.kube.get(DAEMONSETS, CILIUM_DAEMONSET, CILIUM_NAMESPACE):
                present.append("Cilium")
        expected = int(self.config.components.argocd.enabled) + int(self.config.components.cilium.enabled)
        if expected and len(present) == expected:
            return done(f"the bootstrap is already applied ({' and '.join(present)} present)")
        return todo("the bootstrap is not applied yet", *self.planned_actions(ctx))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        """What `Kube.apply_kustomization` runs: build, CRDs, wait, the rest; then this step's wait."""
        folder = bootstrap_dir(ctx)
        apply = tuple(kube_client.apply_argv(ctx.state.kubeconfig))
        established = watch_until(CRDS, "every one is Established")
        return (
            Action(f"build {folder} with Helm charts inflated", command=tuple(kube_client.kustomize_argv(folder))),
            Action("apply its CustomResourceDefinitions server-side (objects on stdin)", command=apply),
            Action("wait until they are Established", api_call=established),
            Action("apply the rest server-side: Gateway API, Cilium, ArgoCD (objects on stdin)", command=apply),
            Action("wait until every CRD in the cluster is Established", api_call=established),
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        applied = await ctx.drivers.kube.apply_kustomization(bootstrap_dir(ctx))
        ctx.output(f"applied {len(applied)} objects")

    async def _wait(self, ctx: StepContext) -> None:
        await wait_crds_established(ctx, self.wait_budget)


def crd_problem(crd: dict[str, Any]) -> str:
    """Why a CRD is not Established yet ('' when it is)."""
    if condition_true(crd, "Established"):
        return ""
    names_accepted = condition(crd, "NamesAccepted")
    if names_accepted and names_accepted.get("status") == "False":
        return f"names not accepted: {names_accepted.get('message', '')}"
    return "not Established yet"


async def wait_crds_established(ctx: StepContext, timeout: float) -> None:
    def ready(objects: Objects) -> tuple[bool, str]:
        waiting = {name: crd_problem(crd) for (_, name), crd in objects.items() if crd_problem(crd)}
        if not waiting:
            return True, f"{len(objects)} CRDs Established"
        first, why = sorted(waiting.items())[0]
        return False, f"{len(waiting)} of {len(objects)} CRDs not Established; {first}: {why}"

    try:
        await wait_for_objects(ctx, CRDS, ready, timeout=timeout)
    except WaitTimedOut as timed_out:
        raise PermanentError(
            f"CRDs never became Established: {timed_out.status}",
            hint="inspect it with `kubectl get crd NAME -o yaml` (conditions); a conflicting older CRD "
            "of the same name is a common cause",
        ) from None


# --- bootstrap secrets ----------------------------------------------------------------------------


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def bootstrap_object_names(config: PlatformConfig) -> list[tuple[str, str, str]]:
    """(kind, namespace, name) of `bootstrap_secret_objects`, in its order, without any value:
    what a plan may show."""
    from talos_platform.engine.render.cluster_secrets import cluster_secrets

    wanted = cluster_secrets(config)
    namespaces = list(dict.fromkeys(secret.namespace for secret in wanted))
    return [("Namespace", "", name) for name in namespaces] + [("Secret", s.namespace, s.name) for s in wanted]


def bootstrap_secret_objects(config: PlatformConfig, secrets: Secrets) -> list[dict[str, Any]]:
    """Namespaces and Secrets the rendered tree reads but never contains. Holds secret values:
    never print these objects."""
    from talos_platform.engine.render.cluster_secrets import GIT_REPOSITORY, cluster_secrets

    objects: list[dict[str, Any]] = []
    namespaces: list[str] = []
    for wanted in cluster_secrets(config):
        value = getattr(secrets, wanted.source, "")
        if not value:
            raise PermanentError(
                f"the secret `{_camel(wanted.source)}` is needed for Secret {wanted.namespace}/{wanted.name} but "
                "was not given",
                hint=f"put `{_camel(wanted.source)}` in the secrets file or set TALOS_PLATFORM_{wanted.source.upper()}",
            )
        data = {wanted.key: _b64(value)}
        if wanted == GIT_REPOSITORY:
            data.update(
                type=_b64("git"), url=_b64(config.gitops.repo_url), username=_b64(secrets.git_username or "git")
            )
        if wanted.namespace not in namespaces:
            namespaces.append(wanted.namespace)
        metadata: dict[str, Any] = {"name": wanted.name, "namespace": wanted.namespace}
        if wanted.labels:
            metadata["labels"] = dict(wanted.labels)
        objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": "Opaque", "data": data})
    namespace_objects = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}} for name in namespaces]
    return namespace_objects + objects


def _camel(attribute: str) -> str:
    head, *rest = attribute.split("_")
    return head + "".join(part.title() for part in rest)


class BootstrapSecrets(BaseStep):
    """Git credentials for ArgoCD, the Cloudflare tokens: Secrets created in the cluster directly
    from the user's secrets (never written to Git or shown)."""

    layer = 1
    timeout: float = 60

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(
            config, step_id="L1.bootstrap-secrets", title="Create the bootstrap Secrets", needs=("L1.bootstrap",)
        )

    def inputs(self) -> Any:
        return {"gitops": self.config.gitops, "components": self.config.components}

    async def _check(self, ctx: StepContext) -> CheckResult:
        objects = bootstrap_secret_objects(self.config, ctx.secrets)
        wanted = [o for o in objects if o["kind"] == "Secret"]
        if not wanted:
            return done("this config needs no bootstrap Secrets")
        stale = []
        for secret in wanted:
            meta = secret["metadata"]
            held = await ctx.drivers.kube.secret_digests(meta["name"], meta["namespace"])
            if held != {key: secret_digest(value) for key, value in secret["data"].items()}:
                stale.append(f"{meta['namespace']}/{meta['name']}")
        if not stale:
            return done(f"{len(wanted)} bootstrap Secrets are in place")
        return todo(f"missing or changed: {', '.join(stale)}", *self.planned_actions(ctx))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        """Every object in one server-side apply (`apply` sends them all; unchanged ones are no-ops)."""
        from talos_platform.engine.render.cluster_secrets import cluster_secrets

        names = bootstrap_object_names(self.config)
        if not any(kind == "Secret" for kind, _, _ in names):
            return (Action("nothing to create: this config needs no bootstrap Secrets"),)
        sources = ", ".join(dict.fromkeys(f"`{_camel(s.source)}`" for s in cluster_secrets(self.config)))
        return (
            Action(
                f"create the bootstrap Secrets from the secrets you gave ({sources}); values go on stdin, never shown",
                command=tuple(kube_client.apply_argv(ctx.state.kubeconfig)),
                api_call=server_side_apply(names),
            ),
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        objects = bootstrap_secret_objects(self.config, ctx.secrets)
        await ctx.drivers.kube.apply_objects(objects)


# --- waits ----------------------------------------------------------------------------------------


def daemonset_rollout(ds: dict[str, Any] | None) -> tuple[bool, str]:
    if ds is None:
        return False, "the DaemonSet does not exist yet"
    status = ds.get("status") or {}
    generation = (ds.get("metadata") or {}).get("generation", 0)
    desired = status.get("desiredNumberScheduled", 0)
    updated = status.get("updatedNumberScheduled", 0)
    available = status.get("numberAvailable", 0)
    text = f"{available}/{desired} available, {updated}/{desired} updated"
    if status.get("observedGeneration", 0) < generation:
        return False, text + " (new spec not yet seen by the controller)"
    return desired > 0 and updated == desired and available == desired, text


def deployment_available(deployment: dict[str, Any]) -> tuple[bool, str]:
    status = deployment.get("status") or {}
    spec_replicas = (deployment.get("spec") or {}).get("replicas", 1)
    generation = (deployment.get("metadata") or {}).get("generation", 0)
    ready = status.get("availableReplicas", 0)
    text = f"{ready}/{spec_replicas} available"
    ok = (
        condition_true(deployment, "Available")
        and status.get("observedGeneration", 0) >= generation
        and status.get("updatedReplicas", 0) >= spec_replicas
    )
    if not ok:
        progressing = condition(deployment, "Progressing")
        if progressing and progressing.get("status") == "False":
            text += f" ({progressing.get('message', '')})"
    return ok, text


def statefulset_ready(statefulset: dict[str, Any]) -> tuple[bool, str]:
    status = statefulset.get("status") or {}
    replicas = (statefulset.get("spec") or {}).get("replicas", 1)
    ready = status.get("readyReplicas", 0)
    return ready >= replicas and status.get("updatedReplicas", replicas) >= replicas, f"{ready}/{replicas} ready"


def node_ready(node: dict[str, Any]) -> bool:
    return condition_true(node, "Ready")


class WaitStep(BaseStep):
    """A step that only waits: `check` says done when the condition already holds."""

    wait_description = ""
    api_call = ""

    async def _status(self, ctx: StepContext) -> tuple[bool, str]:
        raise NotImplementedError

    async def _check(self, ctx: StepContext) -> CheckResult:
        ok, text = await self._status(ctx)
        if ok:
            return done(text)
        return todo(text, *self.planned_actions(ctx))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        return (Action(self.wait_description, api_call=self.api_call),)


class CiliumRollout(WaitStep):
    layer = 1
    timeout: float = 600
    wait_description = "wait for the Cilium DaemonSet to roll out on every node"
    api_call = watch_until(DAEMONSETS, "rolled out", name=CILIUM_DAEMONSET, namespace=CILIUM_NAMESPACE)

    def __init__(self, config: PlatformConfig) -> None:
        super().__init__(config, step_id="L1.cilium", title="Wait for Cilium", needs=("L1.bootstrap",))

    async def _status(self, ctx: StepContext) -> tuple[bool, str]:
        return daemonset_rollout(await ctx.drivers.kube.get(DAEMONSETS, CILIUM_DAEMONSET, CILIUM_NAMESPACE))

    async def _wait(self, ctx: StepContext) -> None:
        def ready(objects: Objects) -> tuple[bool, str]:
            return daemonset_rollout(objects.get((CILIUM_NAMESPACE, CILIUM_DAEMONSET)))

        try:
            await wait_for_objects(ctx, DAEMONSETS, ready, timeout=self.wait_budget, namespace=CILIUM_NAMESPACE)
        except WaitTimedOut as timed_out:
            raise PermanentError(
                f"Cilium did not roll out within {self.timeout:g}s: {timed_out.status}",
                hint="look at the cilium pods: `kubectl -n kube-system get pods -l k8s-app=cilium` and their logs",
            ) from None


def nodes_ready_status(config: PlatformConfig, objects: Objects) -> tuple[bool, str]:
    nodes = list(objects.values())
    not_ready = sorted(n["metadata"]["name"] for n in nodes if not node_ready(n))
    wanted = len(config.nodes)
    if len(nodes) < wanted:
        return False, f"{len(nodes)}/{wanted} nodes registered"
    if not_ready:
        return False, f"{len(nodes) - len(not_ready)}/{len(nodes)} nodes Ready; waiting for {', '.join(not_ready)}"
    return True, f"all {len(nodes)} nodes Ready"


class NodesReady(WaitStep):
    layer = 1
    timeout: float = 600
    wait_description = "wait for every node to turn Ready (the CNI is up)"
    api_call = watch_until(NODES, "every node is Ready")

    def __init__(self, config: PlatformConfig, *, needs: tuple[str, ...] = ("L1.cilium",)):
        super().__init__(config, step_id="L1.nodes-ready", title="Wait for every node to be Ready", needs=needs)

    def inputs(self) -> list[str]:
        return [n.name for n in self.config.nodes]

    async def _status(self, ctx: StepContext) -> tuple[bool, str]:
        listed = await ctx.drivers.kube.list(NODES)
        return nodes_ready_status(self.config, {("", o["metadata"]["name"]): o for o in listed.items})

    async def _wait(self, ctx: StepContext) -> None:
        try:
            await wait_for_objects(
                ctx, NODES, lambda objects: nodes_ready_status(self.config, objects), timeout=self.wait_budget
            )
        except WaitTimedOut as timed_out:
            raise PermanentError(
                f"nodes not Ready within {self.timeout:g}s: {timed_out.status}",
                hint="`kubectl describe node NAME` shows why (usually the CNI pod on that node)",
            ) from None


def argocd_status(deployments: Objects, statefulsets: Objects) -> tuple[bool, str]:
    if not deployments and not statefulsets:
        return False, "no ArgoCD workloads yet"
    waiting = []
    for (_, name), deployment in sorted(deployments.items()):
        ok, text = deployment_available(deployment)
        if not ok:
            waiting.append(f"{name} {text}")
    for (_, name), statefulset in sorted(statefulsets.items()):
        ok, text = statefulset_ready(statefulset)
        if not ok:
            waiting.append(f"{name} {text}")
    if waiting:
        return False, "waiting for " + "; ".join(waiting)
    return True, f"ArgoCD is Available ({len(deployments)} Deployments, {len(statefulsets)} StatefulSets)"


class ArgoCDAvailable(WaitStep):
    layer = 1
    timeout: float = 600
    wait_description = "wait for ArgoCD's Deployments and StatefulSet to be Available"
    api_call = watch_until(STATEFULSETS, "ready", namespace=ARGOCD_NAMESPACE)

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        # The application controller (a StatefulSet) first, then the Deployments, as `_wait` does.
        return (
            Action("wait for ArgoCD's application controller to be ready", api_call=self.api_call),
            Action(
                "then for ArgoCD's Deployments to be Available",
                api_call=watch_until(DEPLOYMENTS, "Available", namespace=ARGOCD_NAMESPACE),
            ),
        )

    def __init__(self, config: PlatformConfig, *, needs: tuple[str, ...] = ("L1.nodes-ready",)):
        super().__init__(config, step_id="L1.argocd", title="Wait for ArgoCD", needs=needs)

    async def _status(self, ctx: StepContext) -> tuple[bool, str]:
        deployments = {
            (ARGOCD_NAMESPACE, o["metadata"]["name"]): o
            for o in (await ctx.drivers.kube.list(DEPLOYMENTS, ARGOCD_NAMESPACE)).items
        }
        statefulsets = {
            (ARGOCD_NAMESPACE, o["metadata"]["name"]): o
            for o in (await ctx.drivers.kube.list(STATEFULSETS, ARGOCD_NAMESPACE)).items
        }
        return argocd_status(deployments, statefulsets)

    async def _wait(self, ctx: StepContext) -> None:
        statefulsets: Objects = {}

        def controller_ready(objects: Objects) -> tuple[bool, str]:
            statefulsets.clear()
            statefulsets.update(objects)
            pending = [
                text for statefulset in objects.values() for ok, text in [statefulset_ready(statefulset)] if not ok
            ]
            return bool(objects) and not pending, "application controller " + ("; ".join(pending) or "ready")

        deadline = ctx.clock.now() + self.wait_budget
        try:
            # The application controller (a StatefulSet) first, then the Deployments, in one budget.
            await wait_for_objects(
                ctx, STATEFULSETS, controller_ready, timeout=self.wait_budget, namespace=ARGOCD_NAMESPACE
            )
            await wait_for_objects(
                ctx,
                DEPLOYMENTS,
                lambda deployments: argocd_status(deployments, statefulsets),
                timeout=max(deadline - ctx.clock.now(), 0.001),
                namespace=ARGOCD_NAMESPACE,
            )
        except WaitTimedOut as timed_out:
            raise PermanentError(
                f"ArgoCD not Available within {self.timeout:g}s: {timed_out.status}",
                hint="`kubectl -n argocd get pods` and the events of the pods that are not Running",
            ) from None
