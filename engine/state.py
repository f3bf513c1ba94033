"""The cluster's state directory: config, Talos secrets bundle, machine configs, talosconfig,
kubeconfig, Vault init material, the rendered GitOps tree and the run journals.

Secret files are written 0600 and atomically, and are never silently replaced: the Talos
secrets bundle IS the cluster's PKI, losing it loses the cluster. A deliberate replacement
keeps a timestamped backup first.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import platformdirs

from talos_platform.engine.errors import UserError
from talos_platform.engine.files import atomic_write

APP_NAME = "talos-platform"
CLUSTER_LOCK_SCOPE = "cluster"
"""The lock scope of every operation that changes the cluster: such runs never overlap."""
LEGACY_HOLDER = "install"
"""Who holds a lock that names nobody: before operations, only installs took it."""
_SAFE_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class SecretFileExists(UserError):
    """Refused to replace a secret file that already holds different content."""


class StateDirectoryBusy(UserError):
    """Another run holds this state directory's lock (of the same scope)."""


class StateDirectory:
    """Paths of everything one cluster keeps on this machine, and safe ways to write them."""

    def __init__(self, root: str | os.PathLike[str]):
        # Absolute from the start: paths derived from the root are used from other places
        # (talosctl, `_inside`), and a relative one would be joined to the root twice.
        self.root = Path(root).expanduser().absolute()
        self._lock_depth: dict[str, int] = {}
        """How often each lock scope is held by this object (re-entrant)."""
        self._lock_guard = threading.Lock()

    def __repr__(self) -> str:
        return f"StateDirectory({str(self.root)!r})"

    # --- paths ---------------------------------------------------------------------------

    @property
    def config(self) -> Path:
        """The platform config the last install used."""
        return self.root / "platform.yaml"

    @property
    def secrets_file(self) -> Path:
        """The user's secrets (git token, Cloudflare tokens), when kept here."""
        return self.root / "secrets.yaml"

    @property
    def talos_dir(self) -> Path:
        """Generated Talos machine configs and patches."""
        return self.root / "talos"

    @property
    def talos_secrets(self) -> Path:
        """The Talos secrets bundle (`talosctl gen secrets`): the cluster's PKI."""
        return self.talos_dir / "secrets.yaml"

    @property
    def talosconfig(self) -> Path:
        return self.talos_dir / "talosconfig"

    @property
    def bootstrap_marker(self) -> Path:
        """Written right after `talosctl bootstrap` succeeded: etcd is bootstrapped even while it
        does not answer yet, so a resumed install waits for it instead of bootstrapping again."""
        return self.talos_dir / "bootstrapped.json"

    def applied_config_marker(self, node_name: str) -> Path:
        """Written as a node is sent its machine config: while it installs and reboots it does
        not answer, and a resumed install must wait for it, not call it lost."""
        return self.talos_dir / "applied" / f"{node_name}.json"

    @property
    def kubeconfig(self) -> Path:
        return self.root / "kubeconfig"

    @property
    def vault_init(self) -> Path:
        """Vault unseal keys and root token from `vault operator init`."""
        return self.root / "vault-init.json"

    @property
    def grafana_admin_password(self) -> Path:
        """Grafana's admin password when none was given: generated once, never replaced."""
        return self.root / "grafana-admin-password"

    @property
    def argocd_admin_password(self) -> Path:
        """ArgoCD's admin password when none was given: generated once, never replaced."""
        return self.root / "argocd-admin-password"

    @property
    def argocd_admin_password_hash(self) -> Path:
        """The bcrypt hash of ArgoCD's admin password, made once (a new salt would look like a new
        password) and replaced only when the password given changes."""
        return self.root / "argocd-admin-password.bcrypt"

    @property
    def vault_init_intent(self) -> Path:
        """Written just before `vault operator init`, removed once its answer is saved in
        `vault_init`: if a run dies in between, the next one knows Vault's keys were lost by this
        install's own interrupted run (not taken by someone else)."""
        return self.root / "vault-init.intent.json"

    @property
    def rendered(self) -> Path:
        """The rendered GitOps repository tree."""
        return self.root / "rendered"

    @property
    def runs(self) -> Path:
        """One folder per run, each with its `events.jsonl` journal."""
        return self.root / "runs"

    @property
    def etcd_snapshots(self) -> Path:
        """etcd snapshots (0600: they hold every Secret of the cluster) and their records."""
        return self.root / "etcd-snapshots"

    @property
    def backups(self) -> Path:
        """Timestamped copies of secret files taken before a deliberate replacement."""
        return self.root / "backups"

    # --- writing -------------------------------------------------------------------------

    def ensure(self) -> StateDirectory:
        """Create the directory (owner-only: it holds the cluster's keys) and `runs/`.
        Raises UserError when it cannot be a writable folder (a file of that name, no permission)."""
        self._ensure_root()
        try:
            self.runs.mkdir(exist_ok=True, mode=0o700)
        except OSError as error:
            raise unwritable(self, error) from None
        return self

    def _ensure_root(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise UserError(
                f"the state directory {self.root} is a file, not a folder",
                where="--state-dir",
                hint="give a folder (new or one an earlier install used), or move that file away",
            )
        try:
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(self.root, 0o700)
        except OSError as error:
            raise unwritable(self, error) from None

    def lock_file(self, scope: str = CLUSTER_LOCK_SCOPE) -> Path:
        """The file a lock scope is held on: `.lock` for the cluster's own scope (the one every
        operation that changes the cluster takes), `.lock-<scope>` for any other."""
        return self.root / (".lock" if scope == CLUSTER_LOCK_SCOPE else f".lock-{scope}")

    @contextlib.contextmanager
    def lock(self, scope: str = CLUSTER_LOCK_SCOPE, *, holder: str = LEGACY_HOLDER) -> Iterator[None]:
        """Hold the directory for one operation's run: runs of the same `scope` exclude each
        other. An OS file lock: released by the kernel when the process dies, so a killed run
        never leaves a stale lock behind. `holder` (the operation's name) is written into the
        lock file, so a refused run can say what holds it.

        Re-entrant for this object and scope (a command takes it before it touches anything
        here, and the run it starts takes it again); any other holder, in this process or
        another, is refused at once."""
        self._ensure_root()
        with self._lock_guard:
            reentered = self._lock_depth.get(scope, 0) > 0
            if reentered:
                self._lock_depth[scope] += 1
        if reentered:
            try:
                yield
            finally:
                with self._lock_guard:
                    self._lock_depth[scope] -= 1
            return
        try:
            handle = open(self.lock_file(scope), "a+")
        except OSError as error:
            raise unwritable(self, error) from None
        try:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise self._busy_error(handle, holder) from None
            _write_holder(handle, holder)
            with self._lock_guard:
                self._lock_depth[scope] = 1
            try:
                yield
            finally:
                with self._lock_guard:
                    self._lock_depth[scope] = 0
        finally:
            handle.close()

    def _busy_error(self, handle: IO[str], wanted_by: str) -> StateDirectoryBusy:
        handle.seek(0)
        holding = handle.read().split(" ", 1)[0].strip() or LEGACY_HOLDER  # an older version wrote nothing
        beside = "" if holding == wanted_by else f"; the {wanted_by} cannot run beside it"
        return StateDirectoryBusy(
            f"another {holding} is running on {self.root}{beside}",
            hint="wait for it to finish, or stop it (Ctrl-C) before starting a new one",
        )

    def busy(self, scope: str = CLUSTER_LOCK_SCOPE) -> bool:
        """Whether a run (this process or another) holds `lock(scope)` right now. Creates nothing."""
        if self._lock_depth.get(scope, 0):
            return True
        path = self.lock_file(scope)
        if not path.is_file():
            return False
        try:
            handle = open(path)
        except OSError:
            return False
        with handle:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            return False

    def busy_scopes(self) -> list[str]:
        """The lock scopes some run holds right now (this process or another)."""
        if not self.root.is_dir():
            return []
        scopes = [CLUSTER_LOCK_SCOPE] + sorted(p.name[len(".lock-") :] for p in self.root.glob(".lock-*"))
        return [scope for scope in scopes if self.busy(scope)]

    def remove_stale_temp_files(self) -> list[Path]:
        """Delete the temp files an atomic write leaves when its process is killed mid-write.
        Only call while holding `lock()`: then no write is in progress."""
        removed = []
        for candidate in self.root.rglob(".*.tmp"):
            if candidate.is_file():
                candidate.unlink()
                removed.append(candidate)
        # The staging folder a killed render leaves beside its target (`.NAME.render-XXXX`).
        for candidate in self.root.glob(".*.render-*"):
            if candidate.is_dir():
                shutil.rmtree(candidate, ignore_errors=True)
                removed.append(candidate)
        return removed

    def write_file(self, path: str | os.PathLike[str], data: bytes | str, mode: int = 0o644) -> Path:
        """Atomic write of a file that holds no secret (rendered output, machine patches)."""
        target = self._inside(path)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write(target, _as_bytes(data), mode=mode)
        return target

    def write_secret(self, path: str | os.PathLike[str], data: bytes | str, overwrite: bool = False) -> Path | None:
        """Write a secret file: 0600, atomic, never replaced unless `overwrite`.

        Writing the same content again is a no-op (so steps stay idempotent). Different content
        over an existing file raises SecretFileExists unless `overwrite`; then the old file is
        first copied to `backups/` and the backup's path is returned.
        """
        target = self._inside(path)
        content = _as_bytes(data)
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        backup = None
        if target.exists():
            if target.read_bytes() == content:
                os.chmod(target, 0o600)
                return None
            if not overwrite:
                raise SecretFileExists(
                    f"{target} already exists with different content; refusing to replace it",
                    where=str(target),
                    hint=(
                        "this file holds cluster secrets and is kept for the life of the cluster; "
                        "move it away yourself only if you really mean to start over"
                    ),
                )
            backup = self.backup(target)
        atomic_write(target, content, mode=0o600)
        return backup

    def backup(self, path: str | os.PathLike[str]) -> Path:
        """Copy a file into `backups/` as `<relative-path-with-dashes>.<UTC timestamp>` (0600)."""
        source = self._inside(path)
        relative = source.relative_to(self.root).as_posix().replace("/", "--")
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        self.backups.mkdir(parents=True, exist_ok=True, mode=0o700)
        destination = self.backups / f"{relative}.{stamp}"
        suffix = 1
        while destination.exists():  # two backups within one microsecond: keep both
            destination = self.backups / f"{relative}.{stamp}.{suffix}"
            suffix += 1
        atomic_write(destination, source.read_bytes(), mode=0o600)
        return destination

    def backups_of(self, path: str | os.PathLike[str]) -> list[Path]:
        """The backups `backup()` took of `path`, oldest first."""
        source = self._inside(path)
        relative = source.relative_to(self.root.resolve()).as_posix().replace("/", "--")
        if not self.backups.is_dir():
            return []
        found = [p for p in self.backups.iterdir() if p.name.startswith(relative + ".") and p.is_file()]
        return sorted(found, key=lambda p: p.name[len(relative) + 1 :])

    def _inside(self, path: str | os.PathLike[str]) -> Path:
        """Resolve `path` (absolute, or relative to the root) and refuse anything outside."""
        candidate = Path(path)
        if not candidate.is_absolute():
            candidate = self.root / candidate
        root = self.root.resolve()
        resolved = candidate.parent.resolve() / candidate.name
        if resolved != root and root not in resolved.parents:
            raise ValueError(f"{path} is outside the state directory {self.root}")
        return resolved


def unwritable(state: StateDirectory, error: OSError) -> UserError:
    """The error for a state directory that cannot be created or written."""
    return UserError(
        f"cannot write the state directory {state.root}: {error.strerror or error}",
        where=str(getattr(error, "filename", "") or state.root),
        hint="check free disk space and that the directory is yours and writable (or give another --state-dir); "
        "then run again to resume",
    )


def state_directory_for(
    cluster_name: str, override: str | os.PathLike[str] | None = None, *, simulated: bool = False
) -> StateDirectory:
    """The cluster's state directory: `override` when given, else the user's state folder
    (platformdirs) / cluster name. Simulated runs keep their journals apart (`simulated/NAME`)
    so a demo never mixes with a real cluster of the same name."""
    if override is not None:
        return StateDirectory(override)
    if not _SAFE_NAME.match(cluster_name):
        raise UserError(
            f"cluster name {cluster_name!r} cannot name a state directory",
            where="cluster.name",
            hint="use a DNS label: lowercase letters, digits and '-'",
        )
    base = platformdirs.user_state_path(APP_NAME)
    return StateDirectory(base / "simulated" / cluster_name if simulated else base / cluster_name)


def clusters_with_runs(*, simulated: bool = False) -> list[str]:
    """Names of the clusters whose state directories (in the default place) hold runs."""
    base = platformdirs.user_state_path(APP_NAME)
    folder = base / "simulated" if simulated else base
    if not folder.is_dir():
        return []
    return sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.name != "simulated" and _SAFE_NAME.match(entry.name) and StateDirectory(entry).runs.is_dir()
    )


def _write_holder(handle: IO[str], holder: str) -> None:
    """Say who holds the lock (`<operation> <pid>`); a failure here must not stop the run."""
    try:
        handle.seek(0)
        handle.truncate()
        handle.write(f"{holder} {os.getpid()}\n")
        handle.flush()
    except OSError:
        pass


def _as_bytes(data: bytes | str) -> bytes:
    return data.encode() if isinstance(data, str) else data
