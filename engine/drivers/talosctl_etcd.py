"""etcd health through talosctl: parsers for the tables `talosctl etcd status`, `etcd members`
and `etcd alarm list` print, and the quota in `talosctl get etcdspecs`.

talosctl lays these tables out with Go's tabwriter (cells padded with at least three spaces),
adds a leading `NODE` column when the API names the node that answered, and prints no header
at all when there is nothing to list. Header names and some cells hold single spaces (`DB SIZE`,
`33 MB (39.76%)`), so columns are cut where the header's names start, never on whitespace.
Sizes are go-humanize's SI figures (`83 MB`, `2.1 GB`): exact to their last printed digit.
"""

from __future__ import annotations

import re
from typing import Any

from talos_platform.engine.drivers.protocols import EtcdAlarm, EtcdMember, EtcdMemberStatus

_SI_UNITS = {"B": 1, "kB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15, "EB": 10**18}
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kMGTPE]?B)\b")
_COLUMN_GAP = re.compile(r"\S+(?: \S+)*")
QUOTA_ARGUMENT = "quota-backend-bytes"


def table_rows(text: str, required: str) -> list[dict[str, str]]:
    """The rows of a tabwriter table as {header name: cell}. `required` is a header name the
    table must have; output without a header (nothing listed) gives no rows."""
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header = lines[0]
    columns = [(match.start(), match.group(0)) for match in _COLUMN_GAP.finditer(header)]
    # Names in a header are one or more words separated by single spaces; a wider gap ends one.
    merged: list[tuple[int, str]] = []
    for start, name in columns:
        if merged and start - (merged[-1][0] + len(merged[-1][1])) < 2:
            merged[-1] = (merged[-1][0], header[merged[-1][0] : start + len(name)])
        else:
            merged.append((start, name))
    names = [name for _, name in merged]
    if required not in names:
        raise ValueError(f"unexpected talosctl table (no {required} column): {header.strip()[:200]!r}")
    rows = []
    for line in lines[1:]:
        row = {}
        for index, (start, name) in enumerate(merged):
            end = merged[index + 1][0] if index + 1 < len(merged) else len(line)
            row[name] = line[start:end].strip()
        rows.append(row)
    return rows


def parse_size(text: str) -> int:
    """Bytes from go-humanize's SI form (`83 MB`, `2.1 GB`, `5 B`)."""
    match = _SIZE.match(text)
    if match is None:
        raise ValueError(f"not a size: {text!r}")
    return round(float(match.group(1)) * _SI_UNITS[match.group(2)])


def _flag(text: str) -> bool:
    return text.strip().lower() == "true"


def parse_etcd_status(text: str) -> list[EtcdMemberStatus]:
    """One status per member row of `talosctl etcd status`
    (`[NODE] MEMBER  DB SIZE  IN USE  LEADER  RAFT INDEX  RAFT TERM  RAFT APPLIED INDEX  LEARNER
    PROTOCOL  STORAGE  ERRORS`; IN USE is `33 MB (39.76%)`)."""
    statuses = []
    for row in table_rows(text, "MEMBER"):
        try:
            statuses.append(
                EtcdMemberStatus(
                    member_id=row["MEMBER"],
                    db_size=parse_size(row["DB SIZE"]),
                    db_size_in_use=parse_size(row["IN USE"]),
                    leader=row["LEADER"],
                    raft_index=int(row["RAFT INDEX"]),
                    raft_term=int(row["RAFT TERM"]),
                    raft_applied_index=int(row["RAFT APPLIED INDEX"]),
                    learner=_flag(row.get("LEARNER", "")),
                    errors=tuple(e.strip() for e in row.get("ERRORS", "").split(", ") if e.strip()),
                )
            )
        except (KeyError, ValueError) as error:
            raise ValueError(f"unexpected `talosctl etcd status` row {row!r}: {error}") from None
    return statuses


def parse_etcd_member_list(text: str) -> list[EtcdMember]:
    """The members `talosctl etcd members` lists (`[NODE] ID  HOSTNAME  PEER URLS  CLIENT URLS
    LEARNER`; URLs joined with commas)."""
    members = []
    for row in table_rows(text, "ID"):

        def urls(cell: str) -> tuple[str, ...]:
            return tuple(url for url in cell.split(",") if url)

        members.append(
            EtcdMember(
                member_id=row["ID"],
                hostname=row.get("HOSTNAME", ""),
                peer_urls=urls(row.get("PEER URLS", "")),
                client_urls=urls(row.get("CLIENT URLS", "")),
                learner=_flag(row.get("LEARNER", "")),
            )
        )
    return members


def parse_etcd_alarms(text: str) -> list[EtcdAlarm]:
    """Active alarms from `talosctl etcd alarm list` (`[NODE] MEMBER  ALARM`; nothing at all when
    there are none). A member may be listed by every node asked: each alarm is kept once."""
    alarms = [EtcdAlarm(row["MEMBER"], row["ALARM"]) for row in table_rows(text, "ALARM") if row.get("ALARM")]
    return [alarm for alarm in dict.fromkeys(alarms) if alarm.alarm != "NONE"]


def etcd_quota(resources: list[dict[str, Any]]) -> int | None:
    """`quota-backend-bytes` from the resources `talosctl get etcdspecs -o json` prints
    (`spec.extraArgs`); None when the spec sets none or something that is not a byte count."""
    for resource in resources:
        spec = resource.get("spec") or {}
        extra = spec.get("extraArgs") if isinstance(spec, dict) else None
        if isinstance(extra, dict) and QUOTA_ARGUMENT in extra:
            value = str(extra[QUOTA_ARGUMENT]).strip()
            return int(value) if value.isdigit() else None
    return None
