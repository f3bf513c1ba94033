"""The simulated platform's state: Talos machines, etcd, the API server, and the Kubernetes
objects in its store, moved forward by callbacks on the virtual clock.

Everything random comes from one `random.Random(seed)` drawn in callback order, which the
discrete-event clock makes deterministic. The drivers (talos.py, kube.py, ...) only read this
state and ask it to change; the controllers (workloads.py, argo.py) react to changes.
"""

from __future__ import annotations

import base64
import math
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from talos_platform.engine.config.models import PlatformConfig
from talos_platform.engine.config.schematic import canonical_extensions, schematic_id
from talos_platform.engine.drivers.protocols import CRDS, NAMESPACES, NODES, SECRETS, Resource
from talos_platform.engine.sim import admission
from talos_platform.engine.sim.api_server_stats import DISK_PRESSURE_PERCENT, RequestDurations
from talos_platform.engine.sim.catalog import NodeSpec
from talos_platform.engine.sim.changes import ExternalChanges
from talos_platform.engine.sim.clock import SimulatedClock
from talos_platform.engine.sim.crds import crd_status
from talos_platform.engine.sim.events import EventRecorder
from talos_platform.engine.sim.nodes import machine_id as node_machine_id
from talos_platform.engine.sim.nodes import node_object
from talos_platform.engine.sim.scenarios import (
    AlertStorm,
    ApiOutage,
    AppOutOfSync,
    DiskFull,
    EtcdAlarmRaised,
    EtcdLearnerStuck,
    ExtensionsOutsideConfig,
    NodeDown,
    NodePressure,
    NodeStuckInMaintenance,
    Scenario,
    SlowApi,
    StorageRebuilds,
    UpgradeGoesWrong,
)
from talos_platform.engine.sim.store import ObjectStore, clone, resource_of
from talos_platform.engine.sim.timeline import FaultTimeline

LEARNER_CATCH_UP_SECONDS = 20.0
"""How long a new etcd member stays a learner before Talos promotes it (a small database)."""

HANDED_OVER_OUTAGE_DELAY = 5.0
"""A `firstApply` API outage on a platform handed over installed starts this long after the
hand-over: long enough for the dashboard to have read the cluster once, short enough to be seen."""


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# Machine stages, as `talosctl get machinestatus` names them (plus `off` before power-on).
OFF, MAINTENANCE, INSTALLING, REBOOTING, BOOTING, RUNNING = (
    "off",
    "maintenance",
    "installing",
    "rebooting",
    "booting",
    "running",
)


@dataclass
class Machine:
    """One Talos node."""

    name: str
    address: str
    planned_role: str
    install_disk: str
    stage: str = OFF
    machine_type: str = ""
    """`controlplane` or `worker` once a config arrived (the config decides, as on Talos)."""
    config_digest: str = ""
    error: str = ""
    stuck_in_maintenance: bool = False
    registered: bool = False
    ready: bool = False
    lost: bool = False
    """Powered off after it had joined: its kubelet stopped posting status."""
    spec: NodeSpec = field(default_factory=NodeSpec)
    kubernetes_version: str = ""
    """Its kubelet's version once `upgrade-k8s` moved it (empty: the config's)."""
    talos_version: str = ""
    """The Talos it runs once an upgrade moved it (empty: the config's)."""
    extensions: tuple[str, ...] = ()
    """Official names of the system extensions its installed image carries."""
    schematic: str = ""
    """The Image Factory schematic ID of its installed image (empty: not a factory image)."""
    cordoned: bool = False
    """`kubectl cordon`ed: nothing new is scheduled onto it."""
    annotations: dict[str, str] = field(default_factory=dict)
    """Set with `kubectl annotate node` (Talos' and the kubelet's own are added to the Node)."""
    drained_by_deletion: bool = False
    """Drained with `--disable-eviction` and still cordoned: the pod a `drainBlocked` budget
    protects was deleted and cannot come back, so no drain of it is refused any more."""

    @property
    def is_control_plane(self) -> bool:
        return self.machine_type == "controlplane"

    @property
    def configured(self) -> bool:
        return bool(self.machine_type)


class ApiUnavailable(ConnectionError):
    """The Kubernetes API server does not answer (not started yet, or an outage)."""


class PlatformModel:
    def __init__(self, scenario: Scenario, config: PlatformConfig, seed: int, clock: SimulatedClock):
        self.scenario = scenario
        self.config = config
        self.seed = seed
        self.clock = clock
        self.rng = random.Random(seed)
        self.timings = scenario.timings
        self.store = ObjectStore()
        self.machines: dict[str, Machine] = {}
        self._by_name: dict[str, Machine] = {}
        self.aliases: dict[str, str] = {}
        """Other addresses a machine answers on (a docker cluster's control plane on loopback)."""
        self.etcd_bootstrapped_on: str | None = None
        self.etcd_members: list[str] = []
        self.etcd_learners: set[str] = set()
        """Members that joined and do not vote yet (Talos promotes them once they caught up)."""
        self.etcd_alarms: dict[str, EtcdAlarmRaised] = {}
        """Control planes whose etcd member raised an alarm (an `etcdAlarm` fault that has begun)."""
        self.api_up = False
        self._api_started_before = False
        self.outage = False
        self.apply_count = 0
        self.argocd_config: dict[str, str] = {}
        self._outage_faults = list(scenario.fault(ApiOutage))
        self.pressure: dict[str, NodePressure] = {}
        self.alert_storms: list[tuple[AlertStorm, float]] = []
        """Alert storms under way, with the virtual time each began (sim/alertmanager.py)."""
        """Nodes running hot now (a `nodePressure` fault that has begun), by name."""
        self.disk_full: dict[str, float] = {}
        """Nodes whose EPHEMERAL filesystem filled up (a `diskFull` fault that has begun): percent used."""
        self.request_durations = RequestDurations(seed)
        """How long API requests take, and the histogram of those served (see api_server_stats.py)."""
        self.day_two_deferred = False
        self.timeline = FaultTimeline()
        """When the timed faults happen, for the screen (see timeline.py)."""
        """Set while an installed start is built: day-2 faults are timed from the hand-over."""

        # Controllers are created by the platform assembly (see __init__.py) to keep imports one-way.
        self.events = EventRecorder(self)
        self.changes = ExternalChanges(self)
        """What the engine changes through the drivers (journalled when the platform persists)."""
        self.workloads: Any = None
        self.argo: Any = None
        self.hubble: Any = None
        self.vault: Any = None
        self.git: Any = None

        stuck = {fault.node: fault for fault in scenario.fault(NodeStuckInMaintenance)}
        if config.cluster.platform.value == "metal":
            for node in config.nodes:
                machine = Machine(
                    name=node.name,
                    address=config.node_ip(node),
                    planned_role=node.role.value,
                    install_disk=node.install_disk,
                    stuck_in_maintenance=node.name in stuck,
                    # The machine has the disk its config names (and a spare).
                    spec=NodeSpec(disks=tuple(dict.fromkeys((node.install_disk, "/dev/sdb")))),
                )
                self.machines[machine.address] = machine
                clock.call_later(self.jitter(self.timings.node_boot), partial(self._powered_on, machine))
        self._stuck_errors = {name: fault.error for name, fault in stuck.items()}

    # --- helpers ------------------------------------------------------------------------

    def jitter(self, base: float) -> float:
        return base * (1.0 + self.rng.random() * self.timings.jitter)

    def later(self, delay: float, callback: Callable[[], Any]) -> None:
        self.clock.call_later(delay, callback)

    def new_uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def now_iso(self) -> str:
        return iso(self.clock.now())

    def machine(self, address: str) -> Machine | None:
        return self.machines.get(self.aliases.get(address, address))

    def machine_named(self, name: str) -> Machine | None:
        if len(self._by_name) != len(self.machines):
            self._by_name = {m.name: m for m in self.machines.values()}
        return self._by_name.get(name)

    # --- Talos machine lifecycle --------------------------------------------------------

    def create_docker_machines(self, workers: int) -> None:
        """`talosctl cluster create docker`: containers that boot straight to maintenance. The
        first control plane gets the Docker network's second address, workers the next ones."""
        if self.machines:
            return
        name = self.config.cluster.name
        network = self.config.node_interface(self.config.control_planes[0]).network
        roles = [("controlplane-1", "control-plane")] + [(f"worker-{index + 1}", "worker") for index in range(workers)]
        for index, (suffix, role) in enumerate(roles):
            address = str(network.network_address + 2 + index)
            machine = Machine(
                name=f"{name}-{suffix}", address=address, planned_role=role, install_disk="/dev/null", stage=MAINTENANCE
            )
            self.machines[machine.address] = machine
        # The control plane's Talos and Kubernetes APIs are also published on loopback.
        self.aliases["127.0.0.1"] = str(network.network_address + 2)

    def _powered_on(self, machine: Machine) -> None:
        if machine.stage == OFF:
            machine.stage = MAINTENANCE

    def configure(
        self, machine: Machine, machine_type: str, digest: str, image: tuple[tuple[str, ...], str] | None = None
    ) -> None:
        """A config arrived over the insecure maintenance API: install (from `image`, its
        extensions and schematic ID; default: the config's schematic), reboot, run."""
        machine.machine_type = machine_type
        machine.extensions, machine.schematic = image or installed_image(self.config, self.scenario, machine.name)
        machine.config_digest = digest
        machine.stage = INSTALLING
        machine.error = ""
        self.later(self.jitter(self.timings.install), lambda: self._installed(machine))

    def _installed(self, machine: Machine) -> None:
        if machine.stuck_in_maintenance:
            # The install fails and the node boots back into maintenance, config forgotten.
            machine.stage = MAINTENANCE
            machine.machine_type = ""
            machine.config_digest = ""
            machine.error = self._stuck_errors.get(machine.name, "install failed")
            return
        machine.stage = REBOOTING
        self.later(self.jitter(self.timings.reboot), lambda: self._set_stage(machine, BOOTING))
        self.later(self.timings.reboot * (1 + self.timings.jitter) + 3.0, lambda: self._running(machine))

    def _set_stage(self, machine: Machine, stage: str) -> None:
        machine.stage = stage

    def _running(self, machine: Machine) -> None:
        machine.stage = RUNNING
        if machine.is_control_plane and self.etcd_bootstrapped_on and machine.name not in self.etcd_members:
            self.later(self.jitter(self.timings.etcd_join), lambda: self._etcd_joined(machine))
        if self.api_up:
            self._schedule_kubelet(machine)

    def bootstrap(self, machine: Machine) -> None:
        self.etcd_bootstrapped_on = machine.name
        self.later(self.jitter(self.timings.etcd_start), lambda: self._etcd_started(machine))

    def _etcd_started(self, machine: Machine) -> None:
        self.etcd_members.append(machine.name)
        for other in self.machines.values():
            if other is not machine and other.is_control_plane and other.stage == RUNNING:
                self.later(self.jitter(self.timings.etcd_join), partial(self._etcd_joined, other))
        self.later(self.jitter(self.timings.api_server_start), self._api_server_started)

    def _etcd_joined(self, machine: Machine) -> None:
        if machine.name not in self.etcd_members:
            self.etcd_members.append(machine.name)
            # A member joins as a learner; promoting it draws nothing random, so the order of
            # everything else stays as it was.
            self.etcd_learners.add(machine.name)
            self.later(LEARNER_CATCH_UP_SECONDS, partial(self._etcd_promoted, machine.name))

    def _etcd_promoted(self, name: str) -> None:
        if name in self.scenario_learners_stuck:
            # Said on the banner from now on: the dashboard flags a learner only once it has
            # stayed one past a grace time (a healthy one is promoted within seconds).
            tag = f"learner-stuck:{name}"
            self.timeline.drop(tag)
            self.timeline.add(
                self.clock.now(),
                f"{name}'s etcd member stays a learner",
                under_way=f"{name}'s etcd member is a learner that is never promoted",
                tag=tag,
            )
            return
        self.etcd_learners.discard(name)

    @property
    def scenario_learners_stuck(self) -> set[str]:
        return {fault.node for fault in self.scenario.fault(EtcdLearnerStuck)}

    def etcd_member_id(self, name: str) -> str:
        """etcd's member ID of `name` (16 hex digits, stable for a seed)."""
        return node_machine_id(f"{name}/etcd", self.seed)[:16]

    # --- node membership (day 2) ----------------------------------------------------------

    def add_machine(self, name: str, address: str, role: str, install_disk: str) -> Machine:
        """A machine racked and booted from the Talos image: it waits in maintenance mode."""
        machine = Machine(
            name=name,
            address=address,
            planned_role=role,
            install_disk=install_disk,
            stage=MAINTENANCE,
            spec=NodeSpec(disks=tuple(dict.fromkeys((install_disk, "/dev/sdb")))),
        )
        self.machines[address] = machine
        self._by_name = {}
        return machine

    def cordon(self, machine: Machine) -> None:
        machine.cordoned = True
        self.workloads.node_cordoned(machine)
        if machine.registered:
            self.put_object(NODES, self._node_object(machine))

    def uncordon(self, machine: Machine) -> None:
        machine.cordoned = False
        machine.drained_by_deletion = False
        self.workloads.node_cordoned(machine)  # the nodes pods may run on changed
        if machine.registered:
            self.put_object(NODES, self._node_object(machine))

    def annotate(self, machine: Machine, key: str, value: str | None) -> None:
        if value is None:
            machine.annotations.pop(key, None)
        else:
            machine.annotations[key] = value
        if machine.registered:
            self.put_object(NODES, self._node_object(machine))

    def finish_reset(self, machine: Machine) -> None:
        """`talosctl reset --graceful` done: it left etcd, wiped its disks and halted; its Node
        stays (NotReady) until deleted."""
        if machine.name in self.etcd_members:
            self.etcd_members.remove(machine.name)
        self.etcd_learners.discard(machine.name)
        machine.stage = OFF
        machine.machine_type = ""
        machine.config_digest = ""
        machine.ready = False
        machine.lost = True
        if machine.registered and self.store.get_entry(NODES, "", machine.name) is not None:
            self.put_object(NODES, self._node_object(machine))
        self.workloads.node_lost(machine)

    def remove_etcd_member(self, name: str) -> None:
        if name in self.etcd_members:
            self.etcd_members.remove(name)
        self.etcd_learners.discard(name)

    def delete_node(self, name: str) -> None:
        machine = self.machine_named(name)
        if machine is not None:
            machine.registered = False
            self.workloads.node_deleted(machine)
        if self.store.get_entry(NODES, "", name) is not None:
            self.store.delete(NODES, "", name)

    def _api_server_started(self) -> None:
        if self.api_up:
            return
        self.api_up = True
        if self._api_started_before:
            return  # back after an etcd restore: what it holds came back with it
        self._api_started_before = True
        for name in ("default", "kube-system", "kube-public", "kube-node-lease"):
            self.ensure_namespace(name)
        # Talos deploys CoreDNS with the control plane; it waits for a CNI like everything else.
        self.apply_object(coredns_deployment())
        for machine in self.machines.values():
            if machine.stage == RUNNING:
                self._schedule_kubelet(machine)
        if not self.day_two_deferred:
            self.schedule_day_two_faults()

    def reset_ephemeral(self, machine: Machine) -> None:
        """`talosctl reset --system-labels-to-wipe EPHEMERAL --reboot --graceful=false`: the node
        reboots with its config kept; its etcd member's data is gone, without leaving the cluster.
        With no member left etcd is down, and the Kubernetes API with it."""
        machine.stage = REBOOTING
        machine.ready = False
        if machine.name in self.etcd_members:
            self.etcd_members.remove(machine.name)
        if not self.etcd_members:
            self.etcd_bootstrapped_on = None
            self.api_up = False
        self.later(self.jitter(self.timings.reboot), lambda: self._back_after_reset(machine))

    def _back_after_reset(self, machine: Machine) -> None:
        """Up again: its etcd waits in Preparing for a bootstrap, or joins members still running."""
        machine.stage = RUNNING
        machine.ready = True
        if machine.is_control_plane and self.etcd_members:
            self.later(self.jitter(self.timings.etcd_join), lambda: self._etcd_joined(machine))

    def schedule_day_two_faults(self) -> None:
        now = self.clock.now()
        for fault in self._outage_faults:
            # On a platform handed over already installed (the dashboard) there is no first
            # apply to wait for: the outage comes shortly after the hand-over instead.
            if fault.trigger == "apiUp" or (self.day_two_deferred and fault.trigger == "firstApply"):
                delay = fault.delay if fault.trigger == "apiUp" else fault.delay + HANDED_OVER_OUTAGE_DELAY
                self.later(delay, partial(self.start_outage, fault.duration))
                self.timeline.add(
                    now + delay,
                    f"the Kubernetes API server becomes unreachable for {fault.duration:g} s",
                    duration=fault.duration,
                    under_way="the Kubernetes API server is unreachable",
                )
        for node_down in self.scenario.fault(NodeDown):
            self.later(node_down.after, partial(self.power_off, node_down.node))
            self.timeline.add(
                now + node_down.after, f"{node_down.node} loses power", under_way=f"{node_down.node} is powered off"
            )
        for alarm in self.scenario.fault(EtcdAlarmRaised):
            self.later(alarm.after, partial(self.etcd_alarms.__setitem__, alarm.node, alarm))
            self.timeline.add(
                now + alarm.after,
                f"{alarm.node}'s etcd raises a {alarm.alarm} alarm",
                under_way=f"etcd has a {alarm.alarm} alarm",
            )
        for hot in self.scenario.fault(NodePressure):
            self.later(hot.after, partial(self.start_pressure, hot))
            self.timeline.add(now + hot.after, f"{hot.node} runs hot", under_way=f"{hot.node} is under pressure")
        for storm in self.scenario.fault(AlertStorm):
            self.later(storm.after, partial(self.start_alert_storm, storm))
            self.timeline.add(
                now + storm.after,
                f"{storm.alerts} alerts start firing",
                under_way=f"a storm of {storm.alerts} alerts ({storm.silenced} silenced)",
            )
        for slow in self.scenario.fault(SlowApi):
            self.later(slow.after, partial(self.start_slow_api, slow))
            lasting = f" for {slow.duration:g} s" if slow.duration else ""
            self.timeline.add(
                now + slow.after,
                f"the Kubernetes API server slows down to ~{slow.latency:g} s a request{lasting}",
                duration=slow.duration or math.inf,
                under_way="the Kubernetes API server is slow",
            )
        for full in self.scenario.fault(DiskFull):
            self.later(full.after, partial(self.fill_disk, full))
            self.timeline.add(
                now + full.after,
                f"{full.node}'s disk fills up",
                under_way=f"{full.node}'s disk is {full.percent:g}% full",
            )

    def start_alert_storm(self, fault: AlertStorm) -> None:
        self.alert_storms.append((fault, self.clock.now()))

    def start_slow_api(self, fault: SlowApi) -> None:
        self.request_durations.slow_latency = fault.latency
        if fault.duration:
            self.later(fault.duration, self._end_slow_api)

    def _end_slow_api(self) -> None:
        self.request_durations.slow_latency = 0.0

    def fill_disk(self, fault: DiskFull) -> None:
        """The node's EPHEMERAL filesystem fills up; past the eviction threshold its kubelet says
        DiskPressure."""
        machine = self.machine_named(fault.node)
        if machine is None:
            return
        self.disk_full[machine.name] = fault.percent
        if machine.registered and self.store.get_entry(NODES, "", machine.name) is not None:
            self.put_object(NODES, self._node_object(machine))

    def start_pressure(self, fault: NodePressure) -> None:
        """The node runs hot; its kubelet reports the pressure conditions it crossed."""
        machine = self.machine_named(fault.node)
        if machine is None:
            return
        self.pressure[machine.name] = fault
        if machine.registered and self.store.get_entry(NODES, "", machine.name) is not None:
            self.put_object(NODES, self._node_object(machine))

    def power_off(self, name: str) -> None:
        """The machine loses power: Talos stops answering at once; the node controller marks the
        node Unknown after its grace period (40 s) and its pods not Ready."""
        machine = self.machine_named(name)
        if machine is None or machine.stage == OFF:
            return
        machine.stage = OFF
        machine.lost = True
        self.later(40.0, lambda: self._node_lost(machine))

    def _node_lost(self, machine: Machine) -> None:
        machine.ready = False
        if machine.registered:
            self.put_object(NODES, self._node_object(machine))
        self.workloads.node_lost(machine)

    def _schedule_kubelet(self, machine: Machine) -> None:
        if not machine.registered:
            machine.registered = True
            self.later(self.jitter(self.timings.kubelet_register), lambda: self._register_node(machine))

    def _register_node(self, machine: Machine) -> None:
        self.put_object(NODES, self._node_object(machine))
        self.workloads.node_registered(machine)

    def cni_ready(self, node_name: str) -> None:
        """The CNI agent runs on `node_name`: the kubelet reports Ready a little later."""
        machine = self.machine_named(node_name)
        if machine is None or machine.ready:
            return
        self.later(self.jitter(self.timings.node_ready_after_cni), lambda: self._node_ready(machine))

    def _node_ready(self, machine: Machine) -> None:
        if machine.ready:
            return
        machine.ready = True
        self.put_object(NODES, self._node_object(machine))
        self.workloads.node_became_ready(machine)

    def talos_version_of(self, machine: Machine) -> str:
        return machine.talos_version or self.config.cluster.talos_version

    def begin_talos_upgrade(self, machine: Machine) -> None:
        """Drained and rebooting into the new version: the Talos API and the kubelet are away."""
        machine.stage = REBOOTING
        machine.ready = False
        if machine.registered:
            self.put_object(NODES, self._node_object(machine))

    def finish_talos_upgrade(self, machine: Machine, version: str, schematic: str = "") -> None:
        machine.talos_version = version
        if schematic:
            # The new image's extensions are the schematic's: what the old image had beyond it is gone.
            machine.schematic = schematic
            ours = self.config.cluster.schematic
            machine.extensions = tuple(canonical_extensions(ours)) if schematic == schematic_id(ours) else ()
        if self.vault is not None:
            self.vault.node_rebooted(machine.name)
        machine.stage = RUNNING
        machine.ready = True
        if machine.registered:
            self.put_object(NODES, self._node_object(machine))
        self._back_from_upgrade(machine)

    def _back_from_upgrade(self, machine: Machine) -> None:
        """What the scenario has happen once a node is back from its upgrade (on replay as well)."""
        for wrong in self.scenario.fault(UpgradeGoesWrong):
            if wrong.node != machine.name or not machine.is_control_plane:
                continue
            if wrong.what == "etcdStaysLearner":
                self.etcd_learners.add(machine.name)
            elif wrong.what == "etcdAlarm":
                self.etcd_alarms[machine.name] = EtcdAlarmRaised(type="etcdAlarm", node=machine.name, alarm=wrong.alarm)
        for out_of_sync in self.scenario.fault(AppOutOfSync):
            if out_of_sync.after_upgrade_of == machine.name and self.argo is not None:
                self.argo.drift(out_of_sync.app)
        for rebuild in self.scenario.fault(StorageRebuilds):
            put_storage_cluster(self, False, f"rebuilding after {machine.name} came back")
            self.later(rebuild.seconds, partial(put_storage_cluster, self, True, "cluster is healthy"))

    def operation_starting(self) -> None:
        """A day-2 operation is about to run on the cluster: what the scenario has be so before."""
        for out_of_sync in self.scenario.fault(AppOutOfSync):
            if not out_of_sync.after_upgrade_of and self.argo is not None:
                self.argo.drift(out_of_sync.app)
        if self.scenario.fault(StorageRebuilds):
            put_storage_cluster(self, True, "cluster is healthy")

    def set_kubernetes_version(self, machine: Machine, version: str) -> None:
        machine.kubernetes_version = version
        if machine.registered:
            self.put_object(NODES, self._node_object(machine))

    def _node_object(self, machine: Machine) -> dict[str, Any]:
        return node_object(
            machine,
            self.config,
            self.seed,
            self.now_iso(),
            existing=self.store.get_entry(NODES, "", machine.name),
            control_plane_taint=not self.workloads_allowed_on_control_planes(),
            pressure=self._pressure_conditions(machine),
        )

    def _pressure_conditions(self, machine: Machine) -> tuple[str, ...]:
        conditions = list(self.pressure[machine.name].conditions) if machine.name in self.pressure else []
        if self.disk_full.get(machine.name, 0.0) >= DISK_PRESSURE_PERCENT and "DiskPressure" not in conditions:
            conditions.append("DiskPressure")
        return tuple(conditions)

    def workloads_allowed_on_control_planes(self) -> bool:
        return not self.config.workers

    # --- API server availability --------------------------------------------------------

    @property
    def api_reachable(self) -> bool:
        return self.api_up and not self.outage

    def api_endpoint(self) -> str:
        host = "127.0.0.1" if self.config.cluster.platform.value == "docker" else self.config.api_endpoint_host
        return f"https://{host}:6443"

    def check_api(self) -> None:
        """Raise ApiUnavailable like a client would when the API does not answer."""
        if not self.api_up:
            raise ApiUnavailable(f'Get "{self.api_endpoint()}/api": dial tcp: connect: connection refused')
        if self.outage:
            raise ApiUnavailable(
                f'Get "{self.api_endpoint()}/api": net/http: TLS handshake timeout (API server unreachable)'
            )

    def note_apply(self) -> None:
        """Called before every apply: the `firstApply` outage trigger fires here."""
        self.apply_count += 1
        if self.apply_count == 1:
            for fault in self._outage_faults:
                if fault.trigger == "firstApply":
                    if fault.delay <= 0:
                        self.start_outage(fault.duration)
                    else:
                        self.later(fault.delay, partial(self.start_outage, fault.duration))
                    self.timeline.add(
                        self.clock.now() + max(0.0, fault.delay),
                        f"the Kubernetes API server becomes unreachable for {fault.duration:g} s",
                        duration=fault.duration,
                        under_way="the Kubernetes API server is unreachable",
                    )

    def start_outage(self, duration: float) -> None:
        self.outage = True
        error = ApiUnavailable(
            f"watch of {self.api_endpoint()} closed: connection reset by peer (API server unreachable)"
        )
        for watcher in list(self.store.all_watchers()):
            watcher.queue.put_nowait(error)
        self.later(duration, self._end_outage)

    def _end_outage(self) -> None:
        self.outage = False

    # --- object writes (the API server's side) ------------------------------------------

    def stamp(self, obj: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        metadata = obj.setdefault("metadata", {})
        if existing is not None:
            old = existing.get("metadata", {})
            metadata["uid"] = old.get("uid")
            metadata["creationTimestamp"] = old.get("creationTimestamp")
            generation = old.get("generation", 1)
            if obj.get("spec") != existing.get("spec"):
                generation += 1
            metadata["generation"] = generation
        else:
            metadata.setdefault("uid", self.new_uid())
            metadata.setdefault("creationTimestamp", self.now_iso())
            metadata.setdefault("generation", 1)
        metadata["resourceVersion"] = str(self.store.next_revision())
        return obj

    def put_object(self, resource: Resource, obj: dict[str, Any]) -> dict[str, Any]:
        namespace = obj["metadata"].get("namespace", "") if resource.namespaced else ""
        name = obj["metadata"]["name"]
        existing = self.store.get_entry(resource, namespace, name)
        self.stamp(obj, existing)
        self.store.put(resource, namespace, name, obj)
        return obj

    def modify(
        self, resource: Resource, namespace: str, name: str, change: Callable[[dict[str, Any]], None]
    ) -> dict[str, Any] | None:
        """Copy, change and store an object; a change that changes nothing writes nothing.

        Stored dicts are never mutated in place (the watch history keeps them), so `change`
        must replace top-level keys (e.g. `obj["status"] = {...}`), never edit nested values."""
        existing: dict[str, Any] | None = self.store.get_entry(resource, namespace, name)
        if existing is None:
            return None
        updated = dict(existing)
        updated["metadata"] = dict(existing["metadata"])
        change(updated)
        if updated == existing:
            return existing
        self.stamp(updated, existing)
        self.store.put(resource, namespace, name, updated)
        return updated

    def ensure_namespace(self, name: str) -> None:
        if name and self.store.get_entry(NAMESPACES, "", name) is None:
            self.put_object(
                NAMESPACES,
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": name, "labels": {"kubernetes.io/metadata.name": name}},
                    "spec": {"finalizers": ["kubernetes"]},
                    "status": {"phase": "Active"},
                },
            )

    def apply_object(self, obj: dict[str, Any], *, app: str = "") -> str:
        """Server-side apply of one object (manifests from the engine or from ArgoCD);
        returns `kind/name` like kubectl prints it."""
        obj = clone(obj)
        resource = resource_of(obj)
        metadata = obj.setdefault("metadata", {})
        if not metadata.get("name"):
            raise ValueError(f"{obj.get('kind', 'object')}: resource name may not be empty")
        if resource.namespaced:
            metadata.setdefault("namespace", "default")
            self.ensure_namespace(metadata["namespace"])
        else:
            metadata.pop("namespace", None)
        if app:
            metadata.setdefault("labels", {}).setdefault("app.kubernetes.io/instance", app)
            group = resource.group
            metadata.setdefault("annotations", {})["argocd.argoproj.io/tracking-id"] = (
                f"{app}:{group}/{resource.kind}:{metadata.get('namespace', '')}/{metadata['name']}"
            )
        namespace = metadata.get("namespace", "")
        existing = self.store.get_entry(resource, namespace, metadata["name"])
        if existing is not None:
            # Server-side apply keeps the status the controllers wrote.
            if "status" in existing and "status" not in obj:
                obj["status"] = clone(existing["status"])
            if existing.get("kind") == "Application":
                for key in ("operation",):
                    if key in existing and key not in obj:
                        obj[key] = clone(existing[key])
        if resource.kind == "Secret" and "stringData" in obj:
            # Like the API server: stringData is merged into data (base64) and not stored.
            data = dict(obj.get("data") or {})
            for key, value in (obj.pop("stringData") or {}).items():
                data[key] = base64.b64encode(str(value).encode()).decode()
            obj["data"] = data
        if resource.kind == "CustomResourceDefinition":
            obj["status"] = crd_status(obj, established=False)
        if resource.kind == "ConfigMap" and metadata["name"] == "argocd-cm":
            self.argocd_config.update({k: str(v) for k, v in (obj.get("data") or {}).items()})
        self.stamp(obj, existing)
        self.store.put(resource, namespace, metadata["name"], obj)
        if resource.kind == "CustomResourceDefinition":
            self.later(1.0 + self.rng.random(), partial(self._establish_crd, metadata["name"]))
        if resource.kind in ("Deployment", "DaemonSet", "StatefulSet"):
            self.workloads.adopt(resource, obj, app=app)
        self._platform_facts(resource.kind, metadata["name"])
        return (
            f"{resource.kind.lower()}.{resource.group or 'core'}/{metadata['name']}"
            if resource.group
            else f"{resource.kind.lower()}/{metadata['name']}"
        )

    def merge_secret_data(self, namespace: str, name: str, data: dict[str, str]) -> None:
        """Server-side apply of some keys of a Secret by a field manager of their own: they are
        set, every other key stays; a missing Secret is made with just them."""
        existing = self.store.get_entry(SECRETS, namespace, name)
        if existing is None:
            self.apply_object(
                {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}, "data": data}
            )
            return
        self.modify(
            SECRETS, namespace, name, lambda secret: secret.__setitem__("data", {**(secret.get("data") or {}), **data})
        )

    def delete_object(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        """Deletes one object (an engine's `kubectl delete`); one already gone is left be. Only
        kinds no simulated controller follows: a Deployment removed from the store alone would
        leave its pods running, so those are refused (ValueError)."""
        if kind in _DELETE_NOT_MODELLED:
            raise ValueError(f"the simulator does not model deleting a {kind}")
        resource = resource_of({"apiVersion": api_version, "kind": kind})
        self.store.delete(resource, namespace if resource.namespaced else "", name)

    def label_namespace(self, name: str, labels: dict[str, str]) -> None:
        """ArgoCD's managedNamespaceMetadata: the namespace gets these labels."""
        self.ensure_namespace(name)

        def change(namespace: dict[str, Any]) -> None:
            namespace["metadata"]["labels"] = {**(namespace["metadata"].get("labels") or {}), **labels}

        before = self.store.get_entry(NAMESPACES, "", name)
        if self.modify(NAMESPACES, "", name, change) is not before:
            self.workloads.namespace_changed(name)

    def _platform_facts(self, kind: str, name: str) -> None:
        """What a new object changes for PodSecurity, volumes and Gateways (sim/admission.py)."""
        if kind == "Namespace":
            self.workloads.namespace_changed(name)
        elif kind == "StorageClass":
            self.workloads.retry_pending()
        elif kind in ("Gateway", "CiliumLoadBalancerIPPool"):
            for gateway in list(self.store.entries(admission.GATEWAYS)):
                meta = gateway["metadata"]
                status = admission.gateway_status(self, gateway)
                if _programmed(gateway.get("status") or {}) != _programmed(status):
                    self.modify(
                        admission.GATEWAYS,
                        meta.get("namespace", ""),
                        meta["name"],
                        partial(_set_status, status=status),
                    )

    def _establish_crd(self, name: str) -> None:
        self.modify(CRDS, "", name, lambda crd: crd.__setitem__("status", crd_status(crd, established=True)))


_DELETE_NOT_MODELLED = frozenset(
    {"Node", "Namespace", "Pod", "Deployment", "DaemonSet", "StatefulSet", "Application", "ApplicationSet"}
)


def _programmed(status: dict[str, Any]) -> str:
    return next((c.get("status", "") for c in status.get("conditions") or [] if c.get("type") == "Programmed"), "")


def coredns_deployment() -> dict[str, Any]:
    tolerations = [
        {"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"},
        {"key": "CriticalAddonsOnly", "operator": "Exists"},
    ]
    labels = {"k8s-app": "kube-dns"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "coredns", "namespace": "kube-system", "labels": labels},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "coredns",
                            "image": "registry.k8s.io/coredns/coredns:v1.12.4",
                            "resources": {"limits": {"memory": "170Mi"}},
                        }
                    ],
                    "tolerations": tolerations,
                    "priorityClassName": "system-cluster-critical",
                },
            },
        },
    }


def _set_status(obj: dict[str, Any], *, status: dict[str, Any]) -> None:
    obj["status"] = status


def installed_image(config: PlatformConfig, scenario: Scenario, node: str) -> tuple[tuple[str, ...], str]:
    """The extensions and schematic ID of the image `node` was installed from: the config's
    schematic, plus what an `extensionsOutsideConfig` fault adds. Docker nodes run the plain
    Talos image: no extensions, no schematic."""
    if config.cluster.platform.value != "metal":
        return (), ""
    extra = [
        name
        for fault in scenario.fault(ExtensionsOutsideConfig)
        if not fault.nodes or node in fault.nodes
        for name in fault.extensions
    ]
    schematic = config.cluster.schematic
    if extra:
        schematic = schematic.model_copy(update={"system_extensions": [*schematic.system_extensions, *extra]})
    return tuple(canonical_extensions(schematic)), schematic_id(schematic)


CEPH_CLUSTERS = Resource("ceph.rook.io", "v1", "cephclusters", "CephCluster")


def put_storage_cluster(model: PlatformModel, ready: bool, message: str) -> None:
    """The storage of scenario `storageRebuilds`: a Rook CephCluster with its Ready condition."""
    condition = {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": "ClusterCreated" if ready else "ClusterProgressing",
        "message": message,
        "lastTransitionTime": model.now_iso(),
    }
    model.put_object(
        CEPH_CLUSTERS,
        {
            "apiVersion": "ceph.rook.io/v1",
            "kind": "CephCluster",
            "metadata": {"name": "rook-ceph", "namespace": "rook-ceph"},
            "status": {"phase": "Ready" if ready else "Progressing", "conditions": [condition]},
        },
    )
