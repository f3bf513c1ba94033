"""Single-value formats: names, addresses, URLs, networks. Public: the wizard checks answers with
them too, and every section's rules use them."""

from __future__ import annotations

import ipaddress
import re
import urllib.parse

DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_DNS_NAME_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", re.IGNORECASE)
_EMAIL_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_SCP_LIKE_GIT_URL = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!/)[^\s]+$")


def is_dns_label(text: str) -> bool:
    """A hostname label: lowercase letters, digits and '-', not at either end, at most 63."""
    return bool(DNS_LABEL.match(text))


def is_dns_name(text: str, *, min_labels: int = 1, allow_wildcard: bool = False) -> bool:
    """A DNS name like `k8s.example.com` (no trailing dot), optionally `*.`-prefixed."""
    if allow_wildcard and text.startswith("*."):
        text = text[2:]
    labels = text.split(".")
    if not text or len(text) > 253 or len(labels) < min_labels:
        return False
    if not all(_DNS_NAME_LABEL.match(label) for label in labels):
        return False
    return not labels[-1].isdigit()  # `10.0.0.1` is an IP, never a name


def is_email(text: str) -> bool:
    local, at, domain = text.rpartition("@")
    return bool(at and local and len(local) <= 64 and _EMAIL_LOCAL.match(local)) and is_dns_name(domain, min_labels=2)


GIT_CREDENTIALS_PROBLEM = "contains credentials"


def git_url_problem(url: str) -> str | None:
    """Why `url` is not a usable Git URL (https://, ssh:// or git@host:path), or None.

    The reason never quotes the URL: it may hold credentials.
    """
    if not url.strip():
        return "is empty"
    if _SCP_LIKE_GIT_URL.match(url):
        return None
    try:
        parsed = urllib.parse.urlsplit(url)
        hostname = parsed.hostname
    except ValueError:  # e.g. an unclosed `[` of an IPv6 host
        return "is not a valid URL"
    if parsed.password is not None or (parsed.scheme in ("http", "https") and parsed.username):
        return GIT_CREDENTIALS_PROBLEM
    if parsed.scheme == "http" and not _is_loopback(hostname or ""):
        # On this machine's loopback nothing crosses a network (a local Git server, the rehearsal).
        return "uses plain http, which sends credentials and content unprotected"
    if parsed.scheme not in ("http", "https", "ssh") or not hostname:
        return "is not an https://, ssh:// or git@host:path URL"
    if parsed.path.strip("/") == "":
        return "names no repository path"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def mirror_url_problem(url: str) -> str | None:
    """Why `url` is not usable as a mirror's base URL (http or https, a host, no credentials)."""
    try:
        parsed = urllib.parse.urlsplit(url)
        hostname = parsed.hostname
    except ValueError:
        return "is not a valid URL"
    if parsed.scheme not in ("http", "https") or not hostname:
        return "is not an http:// or https:// URL"
    if parsed.username or parsed.password:
        return "contains credentials, which must never be in the config"
    if parsed.query or parsed.fragment:
        return "has a query or fragment; give the repository's base URL"
    return None


def network_problem(text: str) -> tuple[ipaddress.IPv4Network | None, str | None, str]:
    """(network, message, hint) for a CIDR field; network is None when it is unusable."""
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None, f"{text!r} is not a CIDR like 10.244.0.0/16", "write a network address and prefix length"
    if "/" not in text:
        return None, f"{text!r} has no prefix length", f"write it as {loose.network_address}/NN, e.g. 10.244.0.0/16"
    if loose.version == 6:
        hint = "use an IPv4 CIDR; the rendered Talos and Cilium settings are IPv4 only"
        return None, "IPv6 networks are not supported", hint
    if str(loose.network_address) != text.split("/")[0]:
        return None, f"{text} has host bits set", f"use the network address: {loose}"
    return loose, None, ""


def is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


Interface = ipaddress.IPv4Interface


def plain_ip(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The IP of a node address, with or without prefix length; None if it is not one."""
    try:
        return ipaddress.ip_interface(address.strip()).ip
    except ValueError:
        return None
