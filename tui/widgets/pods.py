"""Pod-health pane: problems first, then healthy counts per namespace; a filter also finds the
healthy pods, one row each, so that every pod can be opened."""

from __future__ import annotations

from rich.text import Text

from talos_platform.engine.observe import ClusterSnapshot, NamespaceHealth, PodProblem
from talos_platform.engine.observe.pods import POD_SECURITY_REFUSAL
from talos_platform.tui.styles import BAD, GOOD, WAIT, WARN, muted, number
from talos_platform.tui.widgets.pane import Pane, PaneContent, Row, add_part, matches

COLUMNS = ("Pod", "Problem", "Restarts", "Detail")
FLEXIBLE = ((3, 24), (0, 22))
"""In a narrow pane the Problem keeps its width; the Detail (why) wraps, then the pod's name."""

PROBLEM_STYLE = {
    "OOMKilled": f"bold {BAD}",
    "CrashLoopBackOff": f"bold {BAD}",
    "ImagePull": BAD,
    "Failed": BAD,
    "Pending": WAIT,
    "NotReady": WARN,
    "Restarts": WARN,
}
MAX_PROBLEM_ROWS = 300


def problem_text(problem: PodProblem) -> Text:
    if problem.starting:
        return Text("◌ starting", style=WAIT)  # within its start grace: not a problem (yet)
    label = "CrashLoopBackOff ← OOMKilled" if problem.kind == "OOMKilled" else problem.kind
    return Text(f"✗ {label}" if problem.severity <= 1 else f"● {label}", style=PROBLEM_STYLE.get(problem.kind, WARN))


def namespace_text(ns: NamespaceHealth) -> Text:
    counts = f"{number(ns.healthy)}/{number(ns.total)} healthy"
    if ns.healthy == ns.total:
        return Text(f"✓ {counts}", style=GOOD)
    if ns.healthy + ns.starting == ns.total:
        return Text(f"◌ {counts}, {number(ns.starting)} starting", style=WAIT)
    return Text(counts, style=WARN)


def pods_content(snapshot: ClusterSnapshot, query: str = "") -> PaneContent:
    rows = []
    problems = [
        p for p in snapshot.pod_problems if matches(query, p.namespace, p.name, p.kind, p.detail, p.node, p.app)
    ]
    for problem in problems[:MAX_PROBLEM_ROWS]:
        rows.append(
            Row(
                f"pod:{problem.namespace}/{problem.name}",
                (
                    Text(f"{problem.namespace}/{problem.name}", style="bold"),
                    problem_text(problem),
                    number(problem.restarts) if problem.restarts else "",
                    problem.detail[:400],
                ),
            )
        )
    if len(problems) > MAX_PROBLEM_ROWS:
        rows.append(
            Row(
                "more",
                (muted(f"… {number(len(problems) - MAX_PROBLEM_ROWS)} more problems (filter with /)"), "", "", ""),
            )
        )
    if query:
        found = [p for p in snapshot.healthy_pods if matches(query, p.namespace, p.name, p.node, p.app, "healthy")]
        for pod in found[:MAX_PROBLEM_ROWS]:
            rows.append(
                Row(
                    f"pod:{pod.namespace}/{pod.name}",
                    (
                        Text(f"{pod.namespace}/{pod.name}"),
                        Text("✓ healthy", style=GOOD),
                        "",
                        muted(f"on {pod.node}" if pod.node else "not scheduled"),
                    ),
                )
            )
        if len(found) > MAX_PROBLEM_ROWS:
            rows.append(
                Row(
                    "more:healthy",
                    (
                        muted(f"… {number(len(found) - MAX_PROBLEM_ROWS)} more healthy pods (narrow the filter)"),
                        "",
                        "",
                        "",
                    ),
                )
            )
    for ns in snapshot.namespaces:
        if not matches(query, ns.namespace, "namespace"):
            continue
        rows.append(Row(f"namespace:{ns.namespace}", (Text(ns.namespace), namespace_text(ns), "", muted("namespace"))))
    total = snapshot.pod_total
    healthy = sum(ns.healthy for ns in snapshot.namespaces)
    summary = Text(f"{number(healthy)}/{number(total)} pods healthy")
    # A PodSecurity refusal is a workload whose pods were never created, not a sick pod.
    real = snapshot.real_pod_problems
    refused = sum(1 for problem in real if problem.kind == POD_SECURITY_REFUSAL)
    if len(real) > refused:
        add_part(summary, f"✗ {number(len(real) - refused)} with problems", f"bold {BAD}")
    if refused:
        workloads = "workload" if refused == 1 else "workloads"
        add_part(summary, f"✗ {number(refused)} {workloads} refused by PodSecurity", f"bold {BAD}")
    starting = len(snapshot.pod_problems) - len(real)
    if starting:
        add_part(summary, f"◌ {number(starting)} starting", WAIT)
    if query:
        add_part(summary, f"filter: {query}", "italic")
    return PaneContent(
        f"Pod health ({number(total)})",
        COLUMNS,
        tuple(rows),
        summary,
        empty=f'no pod matches "{query}"' if query and total else "no pods yet (the CNI in layer 1 starts them)",
        online=total > 0,
        flexible=FLEXIBLE,
    )


class PodsPane(Pane):
    content_function = staticmethod(pods_content)
