"""The loopback-only guard: with TALOS_PLATFORM_LOOPBACK_ONLY=1 (set by the tests) every real
driver refuses any target that is not on this machine, so no example address is ever contacted.
"""

from __future__ import annotations

import ipaddress
import os
from urllib.parse import urlsplit

from talos_platform.engine.errors import PermanentError

ENV_VAR = "TALOS_PLATFORM_LOOPBACK_ONLY"


def loopback_only() -> bool:
    return os.environ.get(ENV_VAR, "") not in ("", "0", "false", "no")


def is_loopback_host(host: str) -> bool:
    host = host.strip().strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def host_of(target: str) -> str:
    """The host part of an address, `host:port`, `[v6]:port` or URL."""
    if "://" in target:
        return urlsplit(target).hostname or ""
    if target.startswith("["):
        return target[1 : target.index("]")] if "]" in target else target
    if target.count(":") == 1:
        return target.split(":", 1)[0]
    return target.split("/", 1)[0] if target.count(":") == 0 else target


def ensure_allowed(target: str, what: str) -> None:
    """Refuse `target` (a host, address or URL) when loopback-only mode is on and it is not local."""
    if loopback_only() and not is_loopback_host(host_of(target)):
        raise PermanentError(
            f"refusing to contact {what} at {target}: only loopback addresses are allowed",
            hint=f"{ENV_VAR}=1 is set (test mode); unset it to talk to real machines",
        )
