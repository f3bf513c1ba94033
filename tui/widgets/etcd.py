"""How etcd looks in the Nodes pane: one compact cell per control plane, and its problems under
the table (see engine/observe/etcd.py for what counts as one)."""

from __future__ import annotations

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text

from talos_platform.engine.observe.etcd import format_bytes
from talos_platform.engine.observe.snapshot import EtcdMemberView, EtcdView
from talos_platform.tui.styles import bad, good, muted, warn


def etcd_cell(member: EtcdMemberView | None) -> Text:
    """`★ leader 26.1 MiB`, `✓ member 26.1 MiB`, `◌ learner`, `✗ NOSPACE leader 1.9 GiB 95%`,
    `✗ not a member`; empty for a node that runs no etcd."""
    if member is None:
        return Text("")
    if member.joining:
        return warn("◌ joining")
    if not member.member_id:
        if member.problems:
            return bad("✗ no answer" if member.error else "✗ not a member")
        return muted("- not running" if member.error else "- not asked")
    role = "leader" if member.leader else "learner" if member.learner else "member"
    parts = [role]
    if member.db_size is not None:
        parts.append(format_bytes(member.db_size))
        used = member.db_size / member.quota_bytes if member.quota_bytes else 0.0
        if used >= 0.5:
            parts.append(f"{used:.0%}")
    text = " ".join(parts)
    if member.alarms:
        return bad(f"✗ {','.join(member.alarms)} {text}")
    if member.problems:
        return bad(f"✗ {text}")
    if member.learner:
        return warn(f"◌ {text}")
    return good(f"★ {text}" if member.leader else f"✓ {text}")


def etcd_summary(etcd: EtcdView) -> tuple[str, str]:
    """(`✗ 3 etcd problems`, `etcd: cp-1 alarm NOSPACE · cp-3 still an etcd learner after
    300 s …`): the count, and each problem's first clause on one line (the node's detail view
    and `status --live` give them whole); ("", "") when etcd is healthy or unknown."""
    if not etcd.problems:
        return "", ""
    count = len(etcd.problems)
    short = [problem for problem in etcd.problems if not any(problem.startswith(f"{m.node}: ") for m in etcd.members)]
    for member in etcd.members:
        label = member.node or member.hostname or member.member_id
        short += [f"{label} {problem.split(': ')[0].removeprefix('etcd ')}" for problem in member.problems]
    return f"✗ {count:,} etcd problem{'s' if count > 1 else ''}", "etcd: " + " · ".join(short)


def etcd_details(member: EtcdMemberView, etcd: EtcdView) -> list[RenderableType]:
    """The etcd part of a control plane's detail view: its member, its database against the
    quota (and where the quota comes from), raft, alarms, problems, and the member list."""
    parts: list[RenderableType] = [Text("\netcd", style="bold underline")]
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold", no_wrap=True)
    fields.add_column()
    role = "leader" if member.leader else "learner" if member.learner else "member" if member.member_id else "-"
    if member.learner and member.learner_for is not None:
        role += f" (for {member.learner_for:.0f} s)"
    fields.add_row("Member", f"{member.member_id or 'none'} · {role}")
    fields.add_row("Leader", etcd.leader or "unknown")
    if member.db_size is not None:
        quota = member.quota_bytes or 1
        fields.add_row(
            "Database",
            f"{format_bytes(member.db_size)} ({member.db_size / quota:.0%} of the {format_bytes(member.quota_bytes)} "
            f"quota, {member.quota_source}); in use {format_bytes(member.db_size_in_use or 0)}",
        )
    if member.raft_index is not None:
        lag = f", {member.raft_lag:,} behind the highest" if member.raft_lag else ", none behind"
        fields.add_row("Raft index", f"{member.raft_index:,}{lag}")
    fields.add_row("Alarms", bad(", ".join(member.alarms)) if member.alarms else good("none"))
    parts.append(fields)
    parts.extend(bad(f"✗ {problem}") for problem in member.problems)
    if member.error and member.member_id:
        parts.append(warn(f"partly read: {member.error}"))
    members = Table.grid(padding=(0, 2))
    members.add_row(*(Text(name, style="bold") for name in ("ID", "Name", "Node", "")))
    for other in etcd.members:
        flags = ["leader"] if other.leader else []
        flags += ["learner"] if other.learner else []
        members.add_row(
            other.member_id or "-",
            other.hostname or "-",
            other.node or bad("no node we know"),
            " ".join(flags),
        )
    parts += [Text("\netcd members", style="bold underline"), members]
    return parts
