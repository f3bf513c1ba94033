"""The simulated ArgoCD: app-of-apps synced wave by wave, gated on health."""

from talos_platform.engine.drivers.protocols import APPLICATIONS, PODS
from talos_platform.engine.sim.argo import HEALTH_CUSTOMIZATION, objects_from_files

from .helpers import platform_for, wait_until


def apps_by_name(platform):
    return {a["metadata"]["name"]: a for a in platform.model.store.entries(APPLICATIONS)}


def status(app):
    return app.get("status", {}).get("sync", {}).get("status"), app.get("status", {}).get("health", {}).get("status")


async def test_installed_default_platform_has_every_app_synced_and_healthy():
    platform = platform_for(installed=True)
    apps = apps_by_name(platform)
    assert {
        "layer-0",
        "gateway-api-crds",
        "cilium",
        "cert-manager",
        "external-dns",
        "argocd",
        "platform",
        "vault",
        "hello",
    } <= set(apps)
    assert {status(a) for a in apps.values()} == {("Synced", "Healthy")}
    cilium = apps["cilium"]
    assert cilium["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == "-99"
    assert cilium["status"]["operationState"]["phase"] == "Succeeded"
    assert cilium["metadata"]["resourceVersion"].isdigit()


async def test_a_degraded_app_blocks_the_next_wave_with_argocds_message():
    platform = platform_for("app-degraded", installed=True)
    apps = apps_by_name(platform)
    cert_manager = apps["cert-manager"]
    assert status(cert_manager) == ("Synced", "Degraded")
    assert "exceeded its progress deadline" in cert_manager["status"]["health"]["message"]
    assert "external-dns" not in apps and "argocd" not in apps  # waves -97 and -96 never started
    root = apps["layer-0"]["status"]
    assert root["operationState"]["phase"] == "Running"
    assert root["operationState"]["message"] == "waiting for healthy state of argoproj.io/Application/cert-manager"
    assert root["health"]["status"] == "Degraded"
    pods = [p.render() for p in platform.model.store.entries(PODS, "cert-manager")]
    assert any(
        p["status"].get("containerStatuses", [{}])[0].get("state", {}).get("waiting", {}).get("reason")
        == "ImagePullBackOff"
        for p in pods
    )


async def test_without_the_application_health_check_waves_do_not_gate():
    # The same degraded app, but argocd-cm lacks the health customisation: ArgoCD does not
    # assess child Applications, so later waves go ahead regardless (ARCHITECTURE.md 8).
    from talos_platform.engine.sim import installed

    platform = platform_for("app-degraded")
    model = platform.model
    real_apply = model.apply_object

    def apply_without_customisation(obj, **kw):
        if obj.get("kind") == "ConfigMap" and obj["metadata"]["name"] == "argocd-cm":
            obj = {**obj, "data": {k: v for k, v in obj.get("data", {}).items() if k != HEALTH_CUSTOMIZATION}}
        return real_apply(obj, **kw)

    model.apply_object = apply_without_customisation
    installed.fast_forward_install(model)
    apps = apps_by_name(platform)
    assert not platform.model.argo.gating
    assert status(apps["cert-manager"])[1] == "Degraded"
    assert "external-dns" in apps and "argocd" in apps


def test_directory_sources_render_kustomizations_and_plain_manifests():
    files = {
        "kustomization.yaml": b"resources: [a.yaml, sub]\nnamespace: team\n",
        "a.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
        "sub/b.yaml": (
            b"apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n---\n"
            b"apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
        ),
        "ignored.yaml": b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ignored}\n",
    }
    objects = objects_from_files(files)
    assert [(o["kind"], o["metadata"]["name"], o["metadata"].get("namespace")) for o in objects] == [
        ("ConfigMap", "a", "team"),
        ("Namespace", "b", None),
        ("Secret", "s", "team"),
    ]
    plain = objects_from_files({"x.yaml": files["a.yaml"], "deep/y.yaml": files["a.yaml"]})
    assert len(plain) == 1  # no recursion unless asked


async def test_an_application_whose_repository_is_missing_reports_a_comparison_error():
    platform = platform_for(installed=True)
    await platform.drivers.kube.apply_objects(
        [
            {
                "apiVersion": "argoproj.io/v1alpha1",
                "kind": "Application",
                "metadata": {"name": "lost", "namespace": "argocd"},
                "spec": {
                    "project": "default",
                    "destination": {"namespace": "lost", "server": "https://kubernetes.default.svc"},
                    "source": {
                        "repoURL": "https://git.example.com/nobody/nothing.git",
                        "path": ".",
                        "targetRevision": "main",
                    },
                    "syncPolicy": {"automated": {}},
                },
            }
        ]
    )
    await wait_until(platform, lambda: "status" in apps_by_name(platform)["lost"])
    lost = apps_by_name(platform)["lost"]["status"]
    assert lost["sync"]["status"] == "Unknown"
    assert "repository not found" in lost["conditions"][0]["message"]


async def test_a_manual_app_syncs_only_when_an_operation_asks_for_it():
    platform = platform_for(installed=True)
    manual = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "manual", "namespace": "argocd"},
        "spec": {
            "project": "default",
            "destination": {"namespace": "manual", "server": "https://kubernetes.default.svc"},
            "source": {"repoURL": platform.config.gitops.repo_url, "path": "apps/hello", "targetRevision": "main"},
        },
    }
    await platform.drivers.kube.apply_objects([manual])
    await platform.clock.sleep(30)
    assert status(apps_by_name(platform)["manual"]) == ("OutOfSync", "Missing")
    await platform.drivers.kube.apply_objects([{**manual, "operation": {"sync": {"revision": "main"}}}])
    await wait_until(platform, lambda: status(apps_by_name(platform)["manual"]) == ("Synced", "Healthy"))
    assert "operation" not in apps_by_name(platform)["manual"]
