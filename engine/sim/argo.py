"""The simulated ArgoCD: application controller and ApplicationSet controller.

Like ArgoCD, an Application's desired objects come from its source (a path in the simulated Git
remote, a Helm chart, or a known upstream repository); an automated sync applies them wave by
wave (`argocd.argoproj.io/sync-wave`), and a wave starts only when every object of the earlier
waves is healthy. Child Applications count as objects with a health only when `argocd-cm` has
the health customisation for `argoproj.io/Application` (ARCHITECTURE.md section 8); without it
their health is not assessed and waves do not gate, exactly the trap real users fall into.
It runs only while its own pods are ready and the API server answers.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from talos_platform.engine.drivers.protocols import APPLICATIONS, APPLICATIONSETS, SECRETS, Resource
from talos_platform.engine.sim.argocd_server import initialise_settings
from talos_platform.engine.sim.catalog import component_for_url
from talos_platform.engine.sim.health import workload_health
from talos_platform.engine.sim.kube import apply_chart_values, component_objects, manifest_objects
from talos_platform.engine.sim.scenarios import PodSecurityLabelMissing
from talos_platform.engine.sim.store import clone, resource_of

if TYPE_CHECKING:
    from talos_platform.engine.sim.model import PlatformModel

WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"
HEALTH_CUSTOMIZATION = "resource.customizations.health.argoproj.io_Application"
# ArgoCD's order, worst first: an app is as healthy as its worst resource.
_HEALTH_RANK = {"Unknown": 0, "Degraded": 1, "Missing": 2, "Progressing": 3, "Suspended": 4, "Healthy": 5}


def _git_source(spec: dict[str, Any]) -> dict[str, Any]:
    """The source whose branch gives the revision: the only one, or a multi-source
    Application's first Git source (a chart's version is no branch)."""
    single: dict[str, Any] | None = spec.get("source")
    if single:
        return single
    return next((source for source in spec.get("sources") or [] if not source.get("chart")), {})


def wave_of(obj: dict[str, Any]) -> int:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(WAVE_ANNOTATION, "0")
    try:
        return int(str(raw).strip())
    except ValueError:
        return 0


@dataclass
class AppState:
    phase: str = ""
    """Operation phase: '' (none yet), Running, Succeeded, Failed."""
    wave_index: int = 0
    started_at: str = ""
    finished_at: str = ""
    revision: str = ""
    synced_revision: str = ""
    message: str = ""


class SourceError(Exception):
    pass


class ArgoController:
    def __init__(self, model: PlatformModel):
        self.model = model
        self.states: dict[tuple[str, str], AppState] = {}
        self.dirty: set[str] = set()
        self.settled: dict[tuple[str, str], int] = {}
        """Apps with nothing left to do, with the Git remote's version when they settled."""
        self.appset_heads: dict[tuple[str, str], str] = {}
        self._desired_cache: dict[tuple[str, str], tuple[Any, list[dict[str, Any]]]] = {}
        self.unlabelled = {fault.namespace for fault in model.scenario.fault(PodSecurityLabelMissing)}
        """Namespaces the scenario creates without their PodSecurity label."""
        self.extra_appsets: list[dict[str, Any]] = []
        """ApplicationSets the scenario's tenants already have (applied once ArgoCD runs)."""
        self.server_started = False
        """argocd-server has started once and initialised its settings (sim/argocd_server.py)."""
        self.drifted: set[str] = set()
        """Apps a live object of which changed outside Git (scenario `appOutOfSync`): OutOfSync,
        and left so, as ArgoCD does without self-heal."""
        model.store.on_change.append(self._changed)
        model.later(model.timings.argo_reconcile, self._tick)

    # --- triggers -----------------------------------------------------------------------

    def mark_dirty(self, app: str) -> None:
        self.dirty.add(app)

    def drift(self, app: str) -> None:
        """A live object of `app` changed outside Git: ArgoCD's next comparison (done at once,
        so whoever looks next sees it) reports it, and then its parent re-assesses."""
        self.drifted.add(app)
        self.dirty.add(app)
        if not self.running():
            return
        for _ in range(3):  # the app, its parent, the parent's parent
            dirty, self.dirty = self.dirty, set()
            for entry in list(self.model.store.entries(APPLICATIONS)):
                metadata = entry["metadata"]
                if metadata["name"] in dirty:
                    self._reconcile(entry, (metadata.get("namespace", ""), metadata["name"]))

    def _changed(self, resource: Resource, change_type: str, entry: Any) -> None:
        if resource.plural == "applications" and resource.group == "argoproj.io" and isinstance(entry, dict):
            metadata = entry.get("metadata") or {}
            if "operation" in entry:
                self.dirty.add(metadata.get("name", ""))
            instance = (metadata.get("labels") or {}).get("app.kubernetes.io/instance")
            if instance:
                self.dirty.add(instance)  # a child changed: its parent re-assesses

    def quiet(self) -> bool:
        """Every Application has settled and nothing waits to be looked at."""
        return not self.dirty and all(
            (app["metadata"].get("namespace", ""), app["metadata"]["name"]) in self.settled
            for app in self.model.store.entries(APPLICATIONS)
        )

    def running(self) -> bool:
        workloads = self.model.workloads
        controller = workloads.workload("StatefulSet", "argocd", "argocd-application-controller")
        repo_server = workloads.workload("Deployment", "argocd", "argocd-repo-server")
        return (
            self.model.api_reachable
            and controller is not None
            and any(p.ready for p in controller.pods.values())
            and repo_server is not None
            and any(p.ready for p in repo_server.pods.values())
        )

    def _server_running(self) -> bool:
        workload = self.model.workloads.workload("Deployment", "argocd", "argocd-server")
        return self.model.api_reachable and workload is not None and any(p.ready for p in workload.pods.values())

    def _applicationsets_running(self) -> bool:
        workload = self.model.workloads.workload("Deployment", "argocd", "argocd-applicationset-controller")
        return workload is not None and any(p.ready for p in workload.pods.values())

    @property
    def gating(self) -> bool:
        return HEALTH_CUSTOMIZATION in self.model.argocd_config

    # --- the loop -----------------------------------------------------------------------

    def _tick(self) -> None:
        self.model.later(self.model.timings.argo_reconcile, self._tick)
        if not self.server_started and self._server_running():
            self.server_started = True
            initialise_settings(self.model)
        if not self.running():
            return
        if self._applicationsets_running():
            while self.extra_appsets:
                self.model.apply_object(self.extra_appsets.pop(0))
            for appset in list(self.model.store.entries(APPLICATIONSETS)):
                self._generate(appset)
        dirty, self.dirty = self.dirty, set()
        for app in list(self.model.store.entries(APPLICATIONS)):
            metadata = app["metadata"]
            key = (metadata.get("namespace", ""), metadata["name"])
            # A settled app is looked at again only when something it depends on changed.
            if key in self.settled and metadata["name"] not in dirty and self.settled[key] == self.model.git.version:
                continue
            self._reconcile(app, key)

    def _revision(self, app: dict[str, Any]) -> str:
        source = _git_source(app.get("spec") or {})
        branch = self.model.git.branch(source.get("repoURL", ""), source.get("targetRevision") or "main")
        return branch.head if branch else str(source.get("targetRevision", ""))

    # --- one application ----------------------------------------------------------------

    def _reconcile(self, app: dict[str, Any], key: tuple[str, str]) -> None:
        model = self.model
        name = key[1]
        state = self.states.setdefault(key, AppState())
        spec = app.get("spec") or {}
        try:
            desired = self._desired_cached(app, key)
        except SourceError as error:
            self.settled.pop(key, None)
            self._write(
                key,
                {
                    "sync": {"status": "Unknown"},
                    "health": {"status": "Unknown"},
                    "conditions": [
                        {"type": "ComparisonError", "message": str(error), "lastTransitionTime": model.now_iso()}
                    ],
                },
                state,
            )
            return
        revision = self._revision(app)
        waves = sorted({wave_of(obj) for obj in desired})
        live = [(obj, self._live(obj)) for obj in desired]
        out_of_sync = any(found is None for _, found in live) or state.synced_revision != revision
        automated = (spec.get("syncPolicy") or {}).get("automated") is not None
        # `operation` is how `argocd app sync` (or a kubectl patch) asks for a sync by hand.
        requested = "operation" in app and state.phase != "Running"
        if requested:
            model.modify(APPLICATIONS, key[0], key[1], lambda obj: obj.pop("operation", None))
        if state.phase != "Running" and ((out_of_sync and automated) or requested):
            state.phase = "Running"
            state.wave_index = 0
            state.started_at = model.now_iso()
            state.revision = revision
            state.message = "one or more tasks are running"
        if state.phase == "Running":
            self._create_namespace(spec)
            while True:
                wave = waves[state.wave_index] if waves else 0
                members = [obj for obj in desired if wave_of(obj) == wave]
                for obj in members:
                    model.apply_object(obj, app=name)
                if state.wave_index >= len(waves) - 1:
                    state.phase = "Succeeded"
                    state.finished_at = model.now_iso()
                    state.synced_revision = state.revision
                    state.message = "successfully synced (all tasks run)"
                    break
                waiting = next((obj for obj in members if self._health(obj)[0] != "Healthy"), None)
                if waiting is not None:
                    resource = resource_of(waiting)
                    group = resource.group or "v1"
                    state.message = (
                        f"waiting for healthy state of {group}/{resource.kind}/{waiting['metadata']['name']}"
                    )
                    break
                state.wave_index += 1
            live = [(obj, self._live(obj)) for obj in desired]
        resources = []
        worst = ("Healthy", "")
        for obj, found in live:
            resource = resource_of(obj)
            health, message = ("Missing", "") if found is None else self._health(obj)
            entry: dict[str, Any] = {
                "group": resource.group,
                "version": resource.version,
                "kind": resource.kind,
                "name": obj["metadata"]["name"],
                "status": "Synced" if found is not None else "OutOfSync",
                "health": {"status": health, **({"message": message} if message else {})},
            }
            if resource.namespaced:
                entry["namespace"] = obj["metadata"].get("namespace", "")
            if wave_of(obj):
                entry["syncWave"] = wave_of(obj)  # ArgoCD omits the default wave 0
            resources.append(entry)
            if _HEALTH_RANK.get(health, 0) < _HEALTH_RANK.get(worst[0], 0):
                # A missing resource has no message of its own: the operation says what it waits for.
                worst = (health, message)
        drifted = name in self.drifted
        if drifted and resources:
            resources[0]["status"] = "OutOfSync"  # its live state differs from Git's
        # Drift alone starts no sync: automated sync without self-heal leaves live changes.
        synced = all(found is not None for _, found in live) and state.synced_revision == revision and not drifted
        status: dict[str, Any] = {
            "sync": {
                "status": "Synced" if synced else "OutOfSync",
                "revision": revision,
                "comparedTo": {
                    # ArgoCD compares against `sources` for a multi-source Application.
                    **(
                        {"sources": clone(spec["sources"])}
                        if spec.get("sources")
                        else {"source": clone(spec.get("source") or {})}
                    ),
                    "destination": clone(spec.get("destination") or {}),
                },
            },
            "health": {"status": worst[0], **({"message": worst[1]} if worst[1] and worst[0] != "Healthy" else {})},
            "resources": resources,
            "reconciledAt": model.now_iso(),
            "sourceType": "Helm"
            if (spec.get("source") or (spec.get("sources") or [{}])[0]).get("chart")
            else "Kustomize",
        }
        if state.phase:
            operation_state = {
                "operation": {"sync": {"revision": state.revision}, "initiatedBy": {"automated": True}},
                "phase": state.phase,
                "message": state.message,
                "startedAt": state.started_at,
            }
            if state.phase != "Running":
                operation_state["finishedAt"] = state.finished_at
                operation_state["syncResult"] = {"revision": state.revision}
            status["operationState"] = operation_state
        if synced and worst[0] in ("Healthy", "Degraded") and state.phase != "Running":
            self.settled[key] = self.model.git.version
        else:
            self.settled.pop(key, None)
        self._write(key, status, state)

    def _create_namespace(self, spec: dict[str, Any]) -> None:
        """CreateNamespace=true, with the labels of managedNamespaceMetadata."""
        policy = spec.get("syncPolicy") or {}
        namespace = (spec.get("destination") or {}).get("namespace") or ""
        if not namespace or "CreateNamespace=true" not in (policy.get("syncOptions") or []):
            return
        labels = ((policy.get("managedNamespaceMetadata") or {}).get("labels")) or {}
        if namespace in self.unlabelled:
            labels = {}
        self.model.label_namespace(namespace, {str(k): str(v) for k, v in labels.items()})

    def _write(self, key: tuple[str, str], status: dict[str, Any], state: AppState) -> None:
        def change(app: dict[str, Any]) -> None:
            old = app.get("status") or {}
            # reconciledAt alone must not make a change (no watch event every tick).
            if {k: v for k, v in old.items() if k != "reconciledAt"} == {
                k: v for k, v in status.items() if k != "reconciledAt"
            }:
                return
            app["status"] = status

        self.model.modify(APPLICATIONS, key[0], key[1], change)

    def _live(self, obj: dict[str, Any]) -> Any:
        resource = resource_of(obj)
        namespace = obj["metadata"].get("namespace", "") if resource.namespaced else ""
        return self.model.store.get_entry(resource, namespace, obj["metadata"]["name"])

    def _health(self, obj: dict[str, Any]) -> tuple[str, str]:
        live = self._live(obj)
        if live is None:
            return "Missing", ""
        if live.get("kind") == "Application":
            if not self.gating:
                return "Healthy", ""
            health = (live.get("status") or {}).get("health") or {}
            sync = ((live.get("status") or {}).get("sync") or {}).get("status")
            status = health.get("status") or "Progressing"
            if status == "Healthy" and sync != "Synced":
                return "Progressing", "waiting for the application to sync"
            return status, health.get("message", "")
        return workload_health(live)

    # --- desired state ------------------------------------------------------------------

    def _desired_cached(self, app: dict[str, Any], key: tuple[str, str]) -> list[dict[str, Any]]:
        """Rendering manifests is the expensive part: redo it only when the Application's spec,
        its Git revision or the repository credentials changed."""
        fingerprint = (
            app["metadata"].get("uid"),
            app["metadata"].get("generation"),
            self._revision(app),
            self.model.store.count(SECRETS),
        )
        cached = self._desired_cache.get(key)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
        desired = self._desired(app)
        self._desired_cache[key] = (fingerprint, desired)
        return desired

    def _desired(self, app: dict[str, Any]) -> list[dict[str, Any]]:
        spec = app.get("spec") or {}
        destination = (spec.get("destination") or {}).get("namespace") or "default"
        sources = spec.get("sources") or [spec.get("source") or {}]
        objects: list[dict[str, Any]] = []
        for index, source in enumerate(sources, 1):
            objects += self._source_objects(source, destination, index, len(sources))
        for obj in objects:
            if resource_of(obj).namespaced:
                obj.setdefault("metadata", {}).setdefault("namespace", destination)
        return objects

    def _source_objects(self, source: dict[str, Any], destination: str, index: int, total: int) -> list[dict[str, Any]]:
        prefix = (
            f"Failed to load target state: failed to generate manifest for source {index} of {total}: "
            "rpc error: code = Unknown desc ="
        )
        url = source.get("repoURL", "")
        if source.get("chart"):
            values = (source.get("helm") or {}).get("valuesObject") or {}
            objects = component_objects(
                source["chart"], destination, release=(source.get("helm") or {}).get("releaseName", "")
            )
            return apply_chart_values(objects, values)
        self._check_credentials(url, prefix)
        files = self.model.git.files_under(url, source.get("targetRevision", ""), source.get("path", ""))
        if files is None:
            component = component_for_url(url) if not self._is_gitops_repository(url) else None
            if component is not None:
                return component_objects(component.name, destination)
            raise SourceError(f"{prefix} failed to list refs: repository not found")
        if not files:
            raise SourceError(f"{prefix} {source.get('path', '')}: app path does not exist")
        recurse = bool((source.get("directory") or {}).get("recurse"))
        return objects_from_files(files, recurse=recurse)

    def _is_gitops_repository(self, url: str) -> bool:
        from talos_platform.engine.sim.git import normalise_url

        return normalise_url(url) == normalise_url(self.model.config.gitops.repo_url)

    def _check_credentials(self, url: str, prefix: str) -> None:
        if not (self._is_gitops_repository(url) and self.model.config.gitops.private):
            return
        for secret in self.model.store.entries(SECRETS, "argocd"):
            labels = (secret.get("metadata") or {}).get("labels") or {}
            if labels.get("argocd.argoproj.io/secret-type") in ("repository", "repo-creds"):
                return
        raise SourceError(f"{prefix} failed to list refs: authentication required: Repository not found.")

    # --- ApplicationSets ----------------------------------------------------------------

    def _generate(self, appset: dict[str, Any]) -> None:
        metadata = appset["metadata"]
        key = (metadata.get("namespace", ""), metadata["name"])
        spec = appset.get("spec") or {}
        heads = []
        for generator in spec.get("generators") or []:
            git = generator.get("git")
            if git:
                branch = self.model.git.branch(git.get("repoURL", ""), git.get("revision") or "main")
                heads.append(branch.head if branch else "")
        # Generate again only when the ApplicationSet or the Git heads it reads changed.
        fingerprint = repr((heads, metadata.get("generation"), metadata.get("uid")))
        if self.appset_heads.get(key) == fingerprint:
            return
        self.appset_heads[key] = fingerprint
        params: list[dict[str, str]] = []
        for generator in spec.get("generators") or []:
            if "list" in generator:
                for element in generator["list"].get("elements") or []:
                    params.append({str(k): str(v) for k, v in element.items()})
            git = generator.get("git")
            if git:
                directories = self.model.git.directories(git.get("repoURL", ""), git.get("revision") or "main")
                chosen: set[str] = set()
                for rule in git.get("directories") or []:
                    matched = {d for d in directories if _glob(d, rule.get("path", ""))}
                    chosen = chosen - matched if rule.get("exclude") else chosen | matched
                for directory in sorted(chosen):
                    pure = PurePosixPath(directory)
                    params.append(
                        {
                            "path": directory,
                            "path.path": directory,
                            "path.basename": pure.name,
                            "path.basenameNormalized": re.sub(r"[^a-z0-9-]", "-", pure.name.lower()),
                        }
                    )
        now = self.model.now_iso()
        self.model.modify(
            APPLICATIONSETS,
            key[0],
            key[1],
            lambda obj: obj.__setitem__(
                "status",
                {
                    "conditions": [
                        {
                            "type": "ErrorOccurred",
                            "status": "False",
                            "reason": "ApplicationSetUpToDate",
                            "message": "Successfully generated parameters for all Applications",
                            "lastTransitionTime": now,
                        },
                        {
                            "type": "ParametersGenerated",
                            "status": "True",
                            "reason": "ParametersGenerated",
                            "message": "Successfully generated parameters for all Applications",
                            "lastTransitionTime": now,
                        },
                        {
                            "type": "ResourcesUpToDate",
                            "status": "True",
                            "reason": "ApplicationSetUpToDate",
                            "message": "All applications have been generated successfully",
                            "lastTransitionTime": now,
                        },
                    ]
                },
            ),
        )
        template = spec.get("template") or {}
        for values in params:
            generated = _substitute(clone(template), values)
            generated["apiVersion"] = "argoproj.io/v1alpha1"
            generated["kind"] = "Application"
            generated.setdefault("metadata", {}).setdefault("namespace", metadata.get("namespace", "argocd"))
            generated["metadata"]["ownerReferences"] = [
                {
                    "apiVersion": "argoproj.io/v1alpha1",
                    "kind": "ApplicationSet",
                    "name": metadata["name"],
                    "uid": metadata.get("uid", ""),
                    "controller": True,
                }
            ]
            self.model.apply_object(generated)


def objects_from_files(files: dict[str, bytes], *, recurse: bool = False, base: str = "") -> list[dict[str, Any]]:
    """What ArgoCD renders from a directory: a kustomization if there is one, else the YAML files."""

    def at(name: str) -> str:
        return str(PurePosixPath(base) / name) if base else name

    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        if at(name) in files:
            kustomization = yaml.safe_load(files[at(name)]) or {}
            objects: list[dict[str, Any]] = []
            for entry in kustomization.get("resources") or []:
                entry = str(entry)
                if "://" in entry:
                    component = component_for_url(entry)
                    if component is not None:
                        objects += component_objects(component.name, component.namespace)
                    continue
                target = str(PurePosixPath(at(entry)))
                if target in files:
                    objects += manifest_objects(files[target].decode())
                elif any(f.startswith(target + "/") for f in files):
                    objects += objects_from_files(files, recurse=recurse, base=target)
            for chart in kustomization.get("helmCharts") or []:
                objects += component_objects(
                    str(chart.get("name", "")), chart.get("namespace", ""), release=chart.get("releaseName", "")
                )
            if kustomization.get("namespace"):
                for obj in objects:
                    if resource_of(obj).namespaced:
                        obj.setdefault("metadata", {})["namespace"] = kustomization["namespace"]
            return objects
    objects = []
    depth = len(PurePosixPath(base).parts) if base else 0
    for name in sorted(files):
        if base and not name.startswith(base + "/"):
            continue
        if not recurse and len(PurePosixPath(name).parts) != depth + 1:
            continue
        if name.endswith((".yaml", ".yml")):
            objects += manifest_objects(files[name].decode())
    return objects


def _glob(path: str, pattern: str) -> bool:
    """Git generator paths: `*` matches within one path segment only."""
    parts, wanted = path.strip("/").split("/"), pattern.strip("/").split("/")
    return len(parts) == len(wanted) and all(fnmatch.fnmatchcase(p, w) for p, w in zip(parts, wanted, strict=True))


_PLACEHOLDER = re.compile(r"\{\{\s*\.?([A-Za-z0-9_.\[\]]+)\s*\}\}")


def _substitute(value: Any, params: dict[str, str]) -> Any:
    if isinstance(value, str):
        return _PLACEHOLDER.sub(lambda m: params.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {k: _substitute(v, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, params) for v in value]
    return value
