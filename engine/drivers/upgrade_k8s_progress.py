"""Progress per component from what `talosctl upgrade-k8s` prints.

upgrade-k8s logs one line per event, in this order (the format of talosctl 1.11's
pkg/cluster/kubernetes and go-kubernetes' manifest sync):

    discovered controlplane nodes ["172.20.0.2" "172.20.0.3"]
    discovered worker nodes ["172.20.0.5"]
    updating "kube-apiserver" to version "1.34.1"        (then the controller manager, the scheduler)
     > "172.20.0.2": starting update
     > update kube-apiserver: v1.33.4 -> 1.34.1
     > "172.20.0.2": machine configuration patched
     > "172.20.0.2": waiting for kube-apiserver pod update
     < "172.20.0.2": successfully updated
    updating kube-proxy to version "1.34.1"              (a config patch per control plane, no wait)
    updating kubelet to version "1.34.1"                 (control planes, then workers)
     > "172.20.0.5": waiting for kubelet restart
     > "172.20.0.5": waiting for node update
    updating manifests
     > processing manifest v1.ConfigMap/kube-system/...
     < applied successfully

Newer talosctl applies the manifests server-side and prints `updating manifests (dry run)`,
` < configured Deployment/kube-system/coredns` for a change and ` > skipped OBJECT: no changes`.

`UpgradeProgress` follows those lines and says, after each, which component is on which node
and how many nodes of it are done. It keeps no lines: the caller shows the raw ones as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KUBELET = "kubelet"
KUBE_PROXY = "kube-proxy"
MANIFESTS = "manifests"
STATIC_PODS = ("kube-apiserver", "kube-controller-manager", "kube-scheduler")

_DISCOVERED = re.compile(r"^discovered (controlplane|worker) nodes \[(.*)\]$")
_QUOTED = re.compile(r'"([^"]*)"')
_COMPONENT = re.compile(
    r'^updating "?(kube-apiserver|kube-controller-manager|kube-scheduler|kube-proxy|kubelet)"? to version "([^"]+)"$'
)
_NODE_EVENT = re.compile(r'^\s*([<>])\s*"([^"]+)":\s*(.*)$')
_UPDATE = re.compile(r"^\s*>\s*update (\S+): (\S+) -> (\S+)$")
_MANIFEST = re.compile(r"^\s*>\s*processing manifest (\S+)$")
_MANIFEST_DONE = re.compile(r"^\s*<\s*(applied successfully|no changes|dry run, change skipped)$")
_MANIFEST_CHANGE = re.compile(r"^\s*<\s*(created|configured|deleted|unchanged|skipped) (\S+)$")
_MANIFEST_SKIPPED = re.compile(r"^\s*>\s*skipped (\S+): no changes$")
_FAILED_NODE = re.compile(r'error updating node "([^"]+)"')

WAITING_FOR_KUBELET = ("waiting for kubelet restart", "waiting for node update")
"""The two places upgrade-k8s waits on a node's kubelet: it restarting with the new image (a
watch with no timeout: where siderolabs/talos#6976 and #9441 hang), then the Node object
reporting the new version (retried for 3 minutes)."""


@dataclass(frozen=True)
class Progress:
    """Where the upgrade is: `component` on `node` (an address; empty when not per node), with
    `done` of `total` nodes (or manifests: total 0, unknown in advance) finished."""

    component: str
    node: str
    state: str
    done: int
    total: int

    @property
    def waiting_for_kubelet(self) -> bool:
        return self.component == KUBELET and self.state in WAITING_FOR_KUBELET

    def describe(self, name_of: dict[str, str] | None = None) -> str:
        count = f"{self.done}/{self.total}" if self.total else f"{self.done} done"
        where = ""
        if self.node:
            name = (name_of or {}).get(self.node)
            where = f" {name} ({self.node})" if name and name != self.node else f" {self.node}"
        return f"[{self.component} {count}]{where}: {self.state}"


@dataclass
class UpgradeProgress:
    """Feed it every line upgrade-k8s prints; `feed` returns the new progress when a line moved it."""

    control_planes: list[str] = field(default_factory=list)
    workers: list[str] = field(default_factory=list)
    current: Progress | None = None
    _finished: set[str] = field(default_factory=set)

    def feed(self, line: str) -> Progress | None:
        text = line.rstrip()
        if matched := _DISCOVERED.match(text):
            nodes = _QUOTED.findall(matched.group(2))
            if matched.group(1) == "controlplane":
                self.control_planes = _unique(nodes)  # talosctl may list a node twice (talos#8917)
            else:
                self.workers = _unique(nodes)
            return None
        if matched := _COMPONENT.match(text):
            return self._start(matched.group(1), "starting")
        if text in ("updating manifests", "updating manifests (dry run)"):  # the latter: newer talosctl
            return self._start(MANIFESTS, "applying")
        if text in ("waiting for all manifests to be applied", "waiting for kubernetes objects to be fully reconciled"):
            return self._move(state=text)
        if self.current is None:
            return None
        if matched := _NODE_EVENT.match(text):
            return self._node_event(matched.group(1), matched.group(2), matched.group(3))
        if matched := _UPDATE.match(text):
            return self._move(state=f"update {matched.group(2).lstrip('v')} -> {matched.group(3)}")
        if text.strip() == "> skipped in dry-run":
            if self.current.component == KUBE_PROXY:  # counted at its start: the dry run patched nothing
                self._finished.discard(self.current.node)
                return self._move(done=len(self._finished), state="would update (dry run)")
            return self._move(state=f"would update (dry run): {self.current.state.removeprefix('update ')}")
        if matched := _MANIFEST.match(text):
            return self._move(node="", state=f"processing {matched.group(1)}")
        if matched := _MANIFEST_DONE.match(text):
            return self._move(done=self.current.done + 1, state=matched.group(1))
        if self.current.component == MANIFESTS and (matched := _MANIFEST_CHANGE.match(text)):
            return self._move(done=self.current.done + 1, state=f"{matched.group(1)} {matched.group(2)}")
        if self.current.component == MANIFESTS and (matched := _MANIFEST_SKIPPED.match(text)):
            return self._move(done=self.current.done + 1, state=f"no changes to {matched.group(1)}")
        return None

    @property
    def kubelet_wait(self) -> str:
        """The node whose kubelet upgrade-k8s waits on now; empty when it waits on none."""
        return self.current.node if self.current and self.current.waiting_for_kubelet else ""

    def _start(self, component: str, state: str) -> Progress:
        if component == KUBELET:
            total = len(self.control_planes) + len(self.workers)
        elif component == MANIFESTS:
            total = 0
        else:
            total = len(self.control_planes)
        self._finished = set()
        self.current = Progress(component, "", state, 0, total)
        return self.current

    def _node_event(self, direction: str, node: str, what: str) -> Progress | None:
        assert self.current is not None
        if direction == "<" and what == "successfully updated":
            self._finished.add(node)
            return self._move(node=node, done=len(self._finished), state="updated")
        if what == "starting update" and self.current.component == KUBE_PROXY:
            # kube-proxy's update is one config patch per node; upgrade-k8s does not wait on it.
            self._finished.add(node)
            return self._move(node=node, done=len(self._finished), state="config patched")
        if self.current.component not in (*STATIC_PODS, KUBELET):
            return None  # e.g. the compatibility lines before the first component
        return self._move(node=node, state=what.removeprefix(f"{self.current.component}: "))

    def _move(self, *, node: str | None = None, state: str, done: int | None = None) -> Progress | None:
        if self.current is None:
            return None
        current = self.current
        self.current = Progress(
            current.component,
            current.node if node is None else node,
            state,
            current.done if done is None else done,
            current.total,
        )
        return self.current


def failed_node(stderr: str) -> str:
    """The node an upgrade-k8s error names (`error updating node "172.20.0.5": ...`), else empty."""
    matched = _FAILED_NODE.search(stderr)
    return matched.group(1) if matched else ""


def _unique(nodes: list[str]) -> list[str]:
    return list(dict.fromkeys(nodes))
