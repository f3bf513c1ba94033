"""The simulated scheduler, kubelets and workload controllers: Deployments, DaemonSets and
StatefulSets get pods; pods get scheduled (or stay Pending with the scheduler's reason), pull
images, run, crash with OOM kills and back off, and their owners' status follows.

Work happens per changed pod, never per tick over all pods (see pods.py for the records).
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from talos_platform.engine.drivers.protocols import PODS, Resource
from talos_platform.engine.sim import admission
from talos_platform.engine.sim.pods import PodRecord, WorkloadRecord, short_hash, workload_status
from talos_platform.engine.sim.scenarios import AppDegraded, CrashLoop, PodsPending

if TYPE_CHECKING:
    from talos_platform.engine.sim.model import Machine, PlatformModel

CRASH_BACKOFF_CAP = 300.0


class WorkloadController:
    def __init__(self, model: PlatformModel):
        self.model = model
        self.workloads: dict[tuple[str, str, str], WorkloadRecord] = {}
        self.pending: dict[tuple[str, str], PodRecord] = {}
        self.pods_on_node: dict[str, int] = {}
        self._eligible_cache: dict[tuple[bool, bool], list[str]] | None = None
        self._next_ip = 0
        self.listeners: list[Any] = []
        """Called with (pod, running: bool) when a pod starts or stops running (Hubble uses it)."""
        scenario = model.scenario
        self._crash_faults = {(f.namespace, f.workload): f for f in scenario.fault(CrashLoop)}
        self._degraded_apps = {f.app: f for f in scenario.fault(AppDegraded)}
        self._pending_faults = {(f.namespace, f.workload): f for f in scenario.fault(PodsPending)}

    # --- nodes --------------------------------------------------------------------------

    def node_registered(self, machine: Machine) -> None:
        self._eligible_cache = None
        self.pods_on_node.setdefault(machine.name, 0)
        if machine.is_control_plane:
            for component in ("kube-apiserver", "kube-controller-manager", "kube-scheduler"):
                pod = self._new_pod("kube-system", f"{component}-{machine.name}", None, component)
                pod.static = True
                self._bind(pod, machine.name)
                self._start(pod)
        for workload in list(self.workloads.values()):
            if workload.kind == "DaemonSet":
                self._reconcile(workload)

    def node_became_ready(self, machine: Machine) -> None:
        self._eligible_cache = None
        for pod in list(self.pending.values()):
            self._try_schedule(pod)

    def node_lost(self, machine: Machine) -> None:
        """Its pods stay bound but are no longer Ready; their owners and flows follow."""
        self._eligible_cache = None
        for workload in self.workloads.values():
            for pod in workload.pods.values():
                if pod.node == machine.name and pod.ready:
                    pod.ready = False
                    self._touch(pod)
                    for listener in self.listeners:
                        listener(pod, False)
                    self.refresh_status(workload)

    def node_cordoned(self, machine: Machine) -> None:
        self._eligible_cache = None

    def drain(self, machine: Machine) -> list[str]:
        """Evict what Deployments and StatefulSets run on the node, as `kubectl drain` does
        (DaemonSet and static pods stay); their owners start replacements elsewhere. Returns the
        evicted pods as `namespace/name`."""
        evicted = []
        for workload in list(self.workloads.values()):
            if workload.kind == "DaemonSet":
                continue
            on_node = [pod for pod in workload.pods.values() if pod.node == machine.name and not pod.deleted]
            for pod in on_node:
                evicted.append(f"{pod.namespace}/{pod.name}")
                self._delete(pod)
            if on_node:
                self._reconcile(workload)
        return evicted

    def node_deleted(self, machine: Machine) -> None:
        """The Node object is gone: the pod garbage collector deletes every pod still bound to it."""
        self._eligible_cache = None
        owners = []
        for pod in [entry for entry in self.model.store.entries(PODS) if getattr(entry, "node", "") == machine.name]:
            if not pod.deleted:
                self._delete(pod)
                if pod.owner is not None and pod.owner not in owners:
                    owners.append(pod.owner)
        self.pods_on_node.pop(machine.name, None)
        for workload in owners:
            self._reconcile(workload)

    def _eligible(self, tolerate_all: bool, tolerate_control_plane: bool = False) -> list[str]:
        """Nodes a pod with these tolerations may run on (cached until a node changes)."""
        if self._eligible_cache is None:
            self._eligible_cache = {}
        key = (tolerate_all, tolerate_control_plane)
        if key not in self._eligible_cache:
            allow_cp = self.model.workloads_allowed_on_control_planes() or tolerate_control_plane
            names = []
            for machine in self.model.machines.values():
                if not machine.registered or machine.stage != "running" or (machine.cordoned and not tolerate_all):
                    continue
                if tolerate_all or (machine.ready and (allow_cp or not machine.is_control_plane)):
                    names.append(machine.name)
            self._eligible_cache[key] = sorted(names)
        return self._eligible_cache[key]

    def _unschedulable_message(self, fault: str = "", tolerate_control_plane: bool = False) -> str:
        """The scheduler's FailedScheduling message for the nodes as they are now."""
        registered = [m for m in self.model.machines.values() if m.registered]
        total = len(registered)
        if total == 0:
            return "no nodes available to schedule pods"
        preemption = f"preemption: 0/{total} nodes are available: {total} Preemption is not helpful for scheduling."
        if fault == "unboundClaim":
            return f"0/{total} nodes are available: pod has unbound immediate PersistentVolumeClaims. {preemption}"
        if fault in ("insufficientMemory", "insufficientCpu"):
            resource = "memory" if fault == "insufficientMemory" else "cpu"
            usable = len(self._eligible(False))
            others = total - usable
            parts = [f"{usable} Insufficient {resource}"]
            if others:
                parts.append(f"{others} node(s) had untolerated taint {{node-role.kubernetes.io/control-plane: }}")
            return (
                f"0/{total} nodes are available: {', '.join(parts)}. preemption: 0/{total} nodes are available: "
                f"{usable} No preemption victims found for incoming pod, "
                f"{others} Preemption is not helpful for scheduling."
            )
        not_ready = sum(1 for m in registered if not m.ready)
        control_planes = sum(
            1
            for m in registered
            if m.ready
            and m.is_control_plane
            and not (tolerate_control_plane or self.model.workloads_allowed_on_control_planes())
        )
        parts = []
        if control_planes:
            parts.append(f"{control_planes} node(s) had untolerated taint {{node-role.kubernetes.io/control-plane: }}")
        if not_ready:
            parts.append(f"{not_ready} node(s) had untolerated taint {{node.kubernetes.io/not-ready: }}")
        return (
            f"0/{total} nodes are available: {', '.join(parts)}. preemption: 0/{total} nodes are available: "
            f"{total} Preemption is not helpful for scheduling."
        )

    # --- workloads ----------------------------------------------------------------------

    def adopt(self, resource: Resource, obj: dict[str, Any], *, app: str = "") -> None:
        metadata = obj["metadata"]
        spec = obj.get("spec") or {}
        key = (obj["kind"], metadata["namespace"], metadata["name"])
        template = (spec.get("template") or {}).get("spec") or {}
        containers = template.get("containers") or [{}]
        image = containers[0].get("image") or f"registry.example/{metadata['name']}:latest"
        limits = (containers[0].get("resources") or {}).get("limits") or {}
        tolerations = template.get("tolerations") or []
        tolerate_all = any(t.get("operator") == "Exists" and not t.get("key") for t in tolerations)
        tolerate_control_plane = any(
            t.get("key") in ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")
            for t in tolerations
        )
        app = app or (metadata.get("labels") or {}).get("app.kubernetes.io/instance", "")
        replicas = int(spec.get("replicas", 1)) if obj["kind"] != "DaemonSet" else 0
        workload = self.workloads.get(key)
        if workload is None:
            workload = WorkloadRecord(
                obj["kind"],
                metadata["namespace"],
                metadata["name"],
                metadata["uid"],
                replicas,
                app,
                image,
                tolerate_all,
                limits.get("memory", "512Mi"),
                metadata.get("generation", 1),
            )
            workload.crash = self._crash_faults.get((workload.namespace, workload.name))
            if workload.crash is not None:
                workload.memory_limit = workload.crash.memory_limit  # the limit it keeps hitting
            workload.pending = self._pending_faults.get((workload.namespace, workload.name))
            degraded = self._degraded_apps.get(app)
            if (
                degraded is not None
                and obj["kind"] == "Deployment"
                and not any(w.image_pull_fails for w in self.workloads.values() if w.app == app)
            ):
                workload.image_pull_fails = True
            workload.requires_unseal = obj["kind"] == "StatefulSet" and "hashicorp/vault" in image
            workload.tolerations = [dict(t) for t in tolerations]
            workload.template_labels = {
                str(k): str(v)
                for k, v in (((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}).items()
            }
            workload.tolerate_control_plane = tolerate_all or tolerate_control_plane
            workload.template_spec = template
            workload.claims = [
                ((claim.get("spec") or {}).get("storageClassName")) for claim in spec.get("volumeClaimTemplates") or []
            ]
            self.workloads[key] = workload
            if workload.kind == "Deployment":
                deadline = float(spec.get("progressDeadlineSeconds", self.model.timings.progress_deadline))
                self.model.later(deadline, partial(self._deadline, workload))
        else:
            workload.replicas = replicas
            workload.generation = metadata.get("generation", workload.generation)
            workload.app = app or workload.app
        self._reconcile(workload)

    def workload(self, kind: str, namespace: str, name: str) -> WorkloadRecord | None:
        return self.workloads.get((kind, namespace, name))

    def namespace_changed(self, namespace: str) -> None:
        """Its labels changed: controllers retry the pods the API server refused."""
        for workload in list(self.workloads.values()):
            if workload.namespace == namespace and workload.refused:
                self._reconcile(workload)

    def retry_pending(self) -> None:
        """Storage appeared (a StorageClass, a running provisioner): pending pods try again."""
        for pod in list(self.pending.values()):
            self._try_schedule(pod)

    def _refused(self, workload: WorkloadRecord) -> bool:
        """PodSecurity admission of the workload's pods; a refusal is recorded on the controller's
        object (the DaemonSet, the Deployment's ReplicaSet, the StatefulSet) as FailedCreate."""
        if workload.kind == "DaemonSet":
            nodes = self._eligible(workload.tolerate_all, workload.tolerate_control_plane)
            pod_name = f"{workload.name}-{short_hash(workload.name + (nodes[0] if nodes else ''), 5)}"
            owner_kind, owner_name = "DaemonSet", workload.name
        elif workload.kind == "StatefulSet":
            nodes, pod_name, owner_kind, owner_name = [], f"{workload.name}-0", "StatefulSet", workload.name
        else:
            owner_name = f"{workload.name}-{workload.template_hash}"
            nodes, pod_name, owner_kind = [], f"{owner_name}-{short_hash(owner_name, 5)}", "ReplicaSet"
        refused = admission.refusal(self.model, workload.namespace, pod_name, workload.template_spec)
        if refused and (workload.kind != "DaemonSet" or nodes):
            self.model.events.controller(
                owner_kind, workload.namespace, owner_name, workload.uid, "FailedCreate", f"Error creating: {refused}"
            )
        workload.refused = refused
        workload.desired = len(nodes)
        return bool(refused)

    def _reconcile(self, workload: WorkloadRecord) -> None:
        if self._refused(workload):
            self.refresh_status(workload)
            return
        if workload.kind == "DaemonSet":
            wanted = self._eligible(workload.tolerate_all, workload.tolerate_control_plane)
            have = {pod.node for pod in workload.pods.values()}
            for node in wanted:
                if node not in have:
                    name = f"{workload.name}-{short_hash(workload.name + node, 5)}"
                    pod = self._new_pod(workload.namespace, name, workload, workload.name)
                    self._bind(pod, node)
                    self._start_later(pod)
        elif workload.kind == "StatefulSet":
            for ordinal in range(workload.replicas):
                name = f"{workload.name}-{ordinal}"
                if name not in workload.pods:
                    self._create_and_schedule(self._new_pod(workload.namespace, name, workload, workload.name))
        else:
            for surplus in list(workload.pods.values())[workload.replicas :]:
                self._delete(surplus)
            while len(workload.pods) < workload.replicas:
                suffix = "".join(self.model.rng.choice("bcdfghjklmnpqrstvwxz2456789") for _ in range(5))
                name = f"{workload.name}-{workload.template_hash}-{suffix}"
                self._create_and_schedule(self._new_pod(workload.namespace, name, workload, workload.name))
        self.refresh_status(workload)

    def _deadline(self, workload: WorkloadRecord) -> None:
        ready = sum(1 for pod in workload.pods.values() if pod.ready)
        if ready < workload.replicas:
            workload.deadline_exceeded = True
            self.refresh_status(workload)

    # --- pods ---------------------------------------------------------------------------

    def _new_pod(self, namespace: str, name: str, owner: WorkloadRecord | None, container: str) -> PodRecord:
        pod = PodRecord(namespace, name, self.model.new_uid(), owner, self.model.now_iso(), container)
        if owner is not None:
            owner.pods[name] = pod
        self._touch(pod)
        return pod

    def _delete(self, pod: PodRecord) -> None:
        pod.deleted = True
        self.model.events.pod(pod, "Killing", f"Stopping container {pod.container}")
        if pod.owner is not None:
            pod.owner.pods.pop(pod.name, None)
        if pod.node:
            self.pods_on_node[pod.node] = self.pods_on_node.get(pod.node, 1) - 1
        self.pending.pop((pod.namespace, pod.name), None)
        for listener in self.listeners:
            listener(pod, False)
        self.model.store.delete(PODS, pod.namespace, pod.name)

    def _touch(self, pod: PodRecord) -> None:
        pod.cache = None
        pod.resource_version = self.model.store.next_revision()
        self.model.store.put(PODS, pod.namespace, pod.name, pod)

    def _create_and_schedule(self, pod: PodRecord) -> None:
        self.model.later(0.2 + self.model.rng.random() * 0.8, lambda: self._try_schedule(pod))

    def _try_schedule(self, pod: PodRecord) -> None:
        if pod.deleted or pod.node:
            return
        owner = pod.owner
        tolerate_all = bool(owner and owner.tolerate_all)
        tolerate_control_plane = bool(owner and owner.tolerate_control_plane)
        eligible = self._eligible(tolerate_all, tolerate_control_plane)
        fault = owner.pending if owner is not None else None
        reason = fault.reason if fault is not None else ""
        if not reason and owner is not None and not all(admission.claim_bindable(self.model, c) for c in owner.claims):
            reason = "unboundClaim"
        if not eligible or reason:
            message = self._unschedulable_message(reason if eligible else "", tolerate_control_plane)
            self.pending[(pod.namespace, pod.name)] = pod
            if pod.unschedulable != message:
                pod.unschedulable = message
                self._touch(pod)
                self.model.events.pod(pod, "FailedScheduling", message, warning=True)
            return
        self.pending.pop((pod.namespace, pod.name), None)
        # Spread like the scheduler's balancing: the least-loaded of a few random candidates.
        rng = self.model.rng
        candidates = [eligible[rng.randrange(len(eligible))] for _ in range(min(3, len(eligible)))]
        node = min(candidates, key=lambda n: (self.pods_on_node.get(n, 0), n))
        self._bind(pod, node)
        self._start_later(pod)

    def _bind(self, pod: PodRecord, node: str) -> None:
        pod.node = node
        pod.unschedulable = ""
        pod.scheduled_at = self.model.now_iso()
        machine = self.model.machine_named(node)
        pod.node_ip = machine.address if machine else ""
        self.pods_on_node[node] = self.pods_on_node.get(node, 0) + 1
        pod.waiting_reason = "ContainerCreating"
        pod.waiting_message = ""
        self._touch(pod)
        if not pod.static:
            self.model.events.pod(pod, "Scheduled", f"Successfully assigned {pod.namespace}/{pod.name} to {node}")

    def _start_later(self, pod: PodRecord) -> None:
        timings = self.model.timings
        self.model.later(
            self.model.jitter(timings.image_pull) + self.model.jitter(timings.container_start), lambda: self._start(pod)
        )

    def _start(self, pod: PodRecord) -> None:
        if pod.deleted:
            return
        owner = pod.owner
        if owner is not None and owner.image_pull_fails:
            pod.waiting_reason = "ImagePullBackOff"
            pod.waiting_message = f'Back-off pulling image "{owner.image}"'
            self._touch(pod)
            events = self.model.events
            events.pod(
                pod,
                "Failed",
                f'Failed to pull image "{owner.image}": rpc error: code = NotFound desc = failed to pull and '
                f'unpack image "{owner.image}": not found',
                warning=True,
            )
            events.pod(pod, "BackOff", pod.waiting_message, warning=True)
            self._owner_changed(pod)
            return
        uses_host_network = pod.static or (owner is not None and owner.tolerate_all)
        if not pod.ip:
            pod.ip = pod.node_ip if uses_host_network else self._allocate_ip()
        pod.phase = "Running"
        pod.waiting_reason = ""
        pod.waiting_message = ""
        pod.running_since = self.model.now_iso()
        # A container that crashes is killed before its readiness probe ever passes.
        pod.ready = not (
            owner is not None and (owner.crash is not None or (owner.requires_unseal and not self.model.vault.unsealed))
        )
        self._touch(pod)
        if owner is not None and not pod.restart_count:
            self.model.events.pod(pod, "Pulled", f'Successfully pulled image "{owner.image}"')
        self.model.events.pod(pod, "Started", f"Started container {pod.container}")
        for listener in self.listeners:
            listener(pod, True)
        if owner is not None and owner.crash is not None:
            self.model.later(self.model.jitter(15.0), lambda: self._crash(pod))
        self._owner_changed(pod)

    def _crash(self, pod: PodRecord) -> None:
        if pod.deleted or pod.owner is None or pod.owner.crash is None:
            return
        crash = pod.owner.crash
        now = self.model.now_iso()
        pod.last_terminated = {
            "reason": crash.reason,
            "exitCode": 137 if crash.reason == "OOMKilled" else 1,
            "startedAt": pod.running_since,
            "finishedAt": now,
            "containerID": f"containerd://{short_hash(pod.name + now, 32)}",
        }
        pod.restart_count += 1
        backoff = min(CRASH_BACKOFF_CAP, 10.0 * 2 ** (pod.restart_count - 1))
        pod.ready = False
        pod.waiting_reason = "CrashLoopBackOff"
        pod.waiting_message = (
            f"back-off {int(backoff)}s restarting failed container={pod.container} "
            f"pod={pod.name}_{pod.namespace}({pod.uid})"
        )
        self._touch(pod)
        self.model.events.pod(
            pod,
            "BackOff",
            f"Back-off restarting failed container {pod.container} in pod {pod.name}_{pod.namespace}({pod.uid})",
            warning=True,
        )
        for listener in self.listeners:
            listener(pod, False)
        self._owner_changed(pod)
        self.model.later(backoff, lambda: self._start(pod))

    def vault_sealed(self) -> None:
        """Vault started again on empty storage: its pods run but are not ready until unsealed."""
        for workload in self.workloads.values():
            if workload.requires_unseal:
                for pod in workload.pods.values():
                    if pod.ready:
                        pod.ready = False
                        self._touch(pod)
                        self._owner_changed(pod)

    def vault_unsealed(self) -> None:
        for workload in self.workloads.values():
            if workload.requires_unseal:
                for pod in workload.pods.values():
                    if pod.phase == "Running" and not pod.waiting_reason and not pod.ready:
                        pod.ready = True
                        self._touch(pod)
                        self._owner_changed(pod)

    def _allocate_ip(self) -> str:
        self._next_ip += 1
        index = self._next_ip
        return f"10.244.{(index >> 8) & 255}.{index & 255}"

    def _owner_changed(self, pod: PodRecord) -> None:
        if pod.owner is not None:
            self.refresh_status(pod.owner)
            if pod.owner.kind == "DaemonSet" and pod.owner.name == "cilium" and pod.ready:
                self.model.cni_ready(pod.node)
            if pod.owner.name == "local-path-provisioner" and pod.ready:
                self.retry_pending()

    def running_pods(self) -> list[PodRecord]:
        return [pod for workload in self.workloads.values() for pod in workload.pods.values() if pod.phase == "Running"]

    # --- owner status -------------------------------------------------------------------

    def refresh_status(self, workload: WorkloadRecord) -> None:
        status = workload_status(workload)
        now = self.model.now_iso()

        def write(obj: dict[str, Any]) -> None:
            old = obj.get("status") or {}
            # Keep condition times stable unless the condition changed.
            previous = {c["type"]: c for c in old.get("conditions") or []}
            for condition in status.get("conditions") or []:
                before = previous.get(condition["type"])
                if (
                    before
                    and before.get("status") == condition["status"]
                    and before.get("reason") == condition.get("reason")
                ):
                    stamp = before.get("lastTransitionTime")
                    condition["lastTransitionTime"] = stamp
                    condition["lastUpdateTime"] = before.get("lastUpdateTime", stamp)
                else:
                    condition["lastTransitionTime"] = now
                    condition["lastUpdateTime"] = now
            obj["status"] = status

        self.model.modify(workload.resource, workload.namespace, workload.name, write)
        if self.model.argo is not None and workload.app:
            self.model.argo.mark_dirty(workload.app)
