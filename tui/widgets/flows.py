"""Hubble flows pane: the live stream, flows/s, lost events by source, unavailable nodes, top drop
reasons with the denying policy, top dropped pairs; filter and pause."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text

from talos_platform.engine.observe import ClusterSnapshot, FlowStats, FlowView
from talos_platform.tui.styles import BAD, GOOD, MUTED, WARN
from talos_platform.tui.widgets.pane import Pane, PaneContent, Row, add_part, matches

# The reason (and the denying policy) right after the verdict: a half-screen pane cuts the
# right-hand columns, and the endpoints are easier to guess than why a flow was dropped.
COLUMNS = ("Time", "Verdict", "Reason", "Source", "Destination", "Port")
MAX_ROWS = 60
VERDICT_STYLE = {"FORWARDED": GOOD, "DROPPED": f"bold {BAD}", "ERROR": BAD, "AUDIT": WARN}


@dataclass(frozen=True)
class FlowQuery:
    """`/` text for the flows pane: `ns:NAME`, `pod:NAME`, `verdict:dropped`, and free words."""

    namespace: str = ""
    pod: str = ""
    verdict: str = ""
    words: str = ""

    @classmethod
    def parse(cls, text: str) -> FlowQuery:
        fields = {"namespace": "", "pod": "", "verdict": ""}
        words = []
        for token in text.split():
            name, _, value = token.partition(":")
            key = {"ns": "namespace", "namespace": "namespace", "pod": "pod", "verdict": "verdict"}.get(name.lower())
            if key and value:
                fields[key] = value
            else:
                words.append(token)
        return cls(fields["namespace"], fields["pod"], fields["verdict"].upper(), " ".join(words))

    def accepts(self, flow: FlowView) -> bool:
        if self.verdict and flow.verdict != self.verdict:
            return False
        ends = (flow.source, flow.destination)
        if self.namespace and not any(e.startswith(self.namespace + "/") for e in ends):
            return False
        if self.pod and not any(self.pod in e for e in ends):
            return False
        return matches(self.words, flow.source, flow.destination, flow.verdict, flow.drop_reason, flow.node)


def flows_content(snapshot: ClusterSnapshot, query: str = "", *, paused: ClusterSnapshot | None = None) -> PaneContent:
    """With `paused`, the rows stay as they were at the pause and the summary counts what is pending."""
    shown = paused or snapshot
    stats = snapshot.flows
    flow_query = FlowQuery.parse(query)
    # Drops are kept apart in the snapshot, so filtering on them reaches further back.
    candidates = shown.flows.recent_dropped if flow_query.verdict in ("DROPPED", "ERROR") else shown.flows.recent
    selected = [f for f in reversed(candidates) if flow_query.accepts(f)][:MAX_ROWS]
    rows = tuple(
        Row(
            f"flow:{f.time!r}|{f.source}|{f.destination}|{f.verdict}",
            (
                time.strftime("%H:%M:%S", time.gmtime(f.time)),
                Text(f.verdict, style=VERDICT_STYLE.get(f.verdict, "")),
                f"{f.drop_reason} by {f.policy}" if f.policy else f.drop_reason,
                f.source,
                f.destination,
                f"{f.protocol} {f.port}".strip() if f.port else f.protocol,
            ),
        )
        for f in selected
    )
    summary = Text(f"{stats.flows_per_second:,.0f} flows/s")
    add_part(summary, f"lost events: {stats.lost_events:,}", f"bold {BAD}" if stats.lost_events else MUTED)
    if paused is not None:
        pending = stats.total_flows - paused.flows.total_flows
        add_part(summary, f"⏸ PAUSED, {pending:,} new flows pending (p to resume)", f"bold {WARN}")
    if query:
        add_part(summary, f"filter: {query}", "italic")
    for line, style in health_lines(stats):
        summary.append("\n" + line, style=style)
    empty = (
        "Hubble is not available yet (Cilium with Hubble Relay, layer 1)" if not stats.available else "no flows match"
    )
    return PaneContent(
        f"Hubble flows ({stats.total_flows:,})", COLUMNS, rows, summary, empty=empty, online=stats.available
    )


def health_lines(stats: FlowStats) -> list[tuple[str, str]]:
    """What Hubble itself reports beside the flows, worst news first: the stream's error, nodes
    Relay cannot reach (their flows are missing), lost events per source, top drop reasons
    (with the deny policy the flows name) and the top dropped pair."""
    lines = []
    if stats.error:
        lines.append((f"Hubble: {stats.error}", WARN))
    relay = stats.relay
    if relay is not None and relay.unavailable_nodes:
        names = ", ".join(relay.unavailable_node_names) or "not named by Relay"
        total = f" of {relay.unavailable_nodes + relay.connected_nodes:,}" if relay.connected_nodes is not None else ""
        lines.append(
            (
                f"⚠ {relay.unavailable_nodes:,}{total} nodes unavailable to Relay: {names} — their flows are missing",
                WARN,
            )
        )
    if stats.lost_by_source:
        lines.append(("lost: " + ", ".join(f"{source} {count:,}" for source, count in stats.lost_by_source), BAD))
    if stats.drop_reasons:
        lines.append(
            (
                "✗ drops: "
                + ", ".join(
                    f"{r.reason} {r.count:,}" + (f" by {r.policy}" if r.policy else "") for r in stats.drop_reasons[:3]
                ),
                BAD,
            )
        )
    for pair in stats.top_dropped[:1]:
        lines.append((f"✗ {pair.count:,}× {pair.source} → {pair.destination}: {pair.reason}", BAD))
    return lines


class FlowsPane(Pane):
    content_function = staticmethod(flows_content)
