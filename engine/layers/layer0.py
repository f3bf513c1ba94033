"""Layer 2: ArgoCD's layer-0 app-of-apps. Apply the root Application, then follow its children
wave by wave (-100 Gateway API CRDs, -99 Cilium, -98 cert-manager, -97 external-dns, -96 ArgoCD
itself) until each is Synced and Healthy; a wave that does not converge names its blocker."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from talos_platform.engine.drivers import kube_client
from talos_platform.engine.drivers.protocols import APPLICATIONS
from talos_platform.engine.errors import PermanentError
from talos_platform.engine.layers.applications import ARGOCD_NAMESPACE, FollowApplications, Selector
from talos_platform.engine.layers.argo import wave_of
from talos_platform.engine.layers.base import BaseStep, done, todo
from talos_platform.engine.layers.planned import server_side_apply
from talos_platform.engine.plan.step import Action, CheckResult

if TYPE_CHECKING:
    from talos_platform.engine.config.models import PlatformConfig
    from talos_platform.engine.plan.context import StepContext

ROOT_APPLICATION_FILE = "bootstrap-app.yaml"
ROOT_APPLICATION = "layer-0"

# wave -> (component switch, Application name), as the rendered layer-0 folder orders them.
LAYER0_WAVES: tuple[tuple[int, str, str], ...] = (
    (-100, "gateway_api", "gateway-api-crds"),
    (-99, "cilium", "cilium"),
    (-98, "cert_manager", "cert-manager"),
    (-97, "external_dns", "external-dns"),
    (-96, "argocd", "argocd"),
)


def root_application_documents(rendered: Path) -> list[dict[str, Any]]:
    path = rendered / ROOT_APPLICATION_FILE
    if not path.exists():
        raise PermanentError(
            f"{path} is missing from the rendered tree", hint="run the install from layer 1 (it renders the tree)"
        )
    return _documents(path.read_text())


def _documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _identity(document: dict[str, Any]) -> tuple[str, str, str]:
    meta = document.get("metadata") or {}
    return document.get("kind", ""), meta.get("namespace", ARGOCD_NAMESPACE), meta.get("name", "")


class RootApplication(BaseStep):
    """`kubectl apply -f bootstrap-app.yaml`: the one Application applied by hand."""

    layer = 2
    timeout: float = 120

    def __init__(self, config: PlatformConfig, *, needs: tuple[str, ...]) -> None:
        super().__init__(config, step_id="L2.root-app", title="Apply the root Application (layer-0)", needs=needs)

    def inputs(self) -> Any:
        return {"gitops": self.config.gitops}

    async def _check(self, ctx: StepContext) -> CheckResult:
        documents = root_application_documents(ctx.state.rendered)
        missing = []
        for document in documents:
            meta = document.get("metadata") or {}
            if not await ctx.drivers.kube.get(
                APPLICATIONS, meta.get("name", ""), meta.get("namespace", ARGOCD_NAMESPACE)
            ):
                missing.append(meta.get("name", ""))
        if not missing:
            return done(f"the root Application {', '.join(d['metadata']['name'] for d in documents)} exists")
        return todo(f"Application {', '.join(missing)} does not exist yet", *self._actions(ctx, documents))

    def planned_actions(self, ctx: StepContext) -> tuple[Action, ...]:
        # The tree is not rendered yet before an install: the same render tells the documents.
        from talos_platform.engine.render import render_tree

        return self._actions(ctx, _documents(render_tree(self.config)[ROOT_APPLICATION_FILE].decode()))

    def _actions(self, ctx: StepContext, documents: list[dict[str, Any]]) -> tuple[Action, ...]:
        return (
            Action(
                f"apply {ctx.state.rendered / ROOT_APPLICATION_FILE} server-side (objects on stdin)",
                command=tuple(kube_client.apply_argv(ctx.state.kubeconfig)),
                api_call=server_side_apply(_identity(document) for document in documents),
            ),
        )

    async def _apply(self, ctx: StepContext, check: CheckResult) -> None:
        await ctx.drivers.kube.apply_objects(root_application_documents(ctx.state.rendered))


def in_wave(wave: int) -> Selector:
    """The wave's Applications, without the root Application that holds them."""
    return lambda app: wave_of(app) == wave and app["metadata"].get("name") != ROOT_APPLICATION


def wave_steps(config: PlatformConfig, *, first_needs: tuple[str, ...]) -> list[FollowApplications]:
    steps: list[FollowApplications] = []
    needs = first_needs
    for wave, component, name in LAYER0_WAVES:
        if not getattr(config.components, component).enabled:
            continue
        step = FollowApplications(
            config,
            step_id=f"L2.wave{wave}",
            title=f"Wait for wave {wave} ({name})",
            group=f"wave {wave}",
            selector=in_wave(wave),
            expected=(name,),
            needs=needs,
            layer=2,
            timeout=900,
        )
        steps.append(step)
        needs = (step.id,)
    return steps
