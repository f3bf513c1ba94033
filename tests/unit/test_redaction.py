"""The one redactor: a canary secret must vanish from every event type and from command output,
in every form a tool may print it (plain, base64 alone or inside a blob, wrapped, URL-encoded)."""

from __future__ import annotations

import base64
import dataclasses
import json
import urllib.parse

import pytest

from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.run.events import EVENT_TYPES, Event, event_from_record
from talos_platform.engine.run.redaction import PLACEHOLDER, Redactor

CANARY = "cnry-7Hq2ZxK9pLw3Vb8Tm4Ys"
TUNNEL = "eyJhIjoiMTIzNDU2Nzg5MCIsInQiOiJhYmMrZGVmLz0ifQ=="  # looks like a real tunnel token
SECRETS = Secrets(git_username="deploy-bot", git_token=CANARY, cloudflare_tunnel_token=TUNNEL)


def leaks(text: str) -> list[str]:
    """Every form of the canary still present in `text`."""
    raw = CANARY.encode()
    forms = [CANARY, base64.b64encode(raw).decode(), base64.b64encode(raw).decode().rstrip("=")]
    return [form for form in forms if form in text]


def sample(annotation: str, text: str):
    """A value of the field's (string) annotation, with `text` in every string."""
    if annotation in ("str", "str | None"):
        return text
    if annotation.startswith("dict[str, str"):
        return {"key": text}
    if annotation.startswith("tuple[str"):
        return (text, f"second {text}")
    if annotation == "int":
        return 2
    if annotation == "float":
        return 1.5
    if annotation == "bool":
        return True
    raise AssertionError(f"teach this test the field type {annotation!r}")


def event_full_of(cls: type[Event], text: str) -> Event:
    values = {f.name: sample(str(f.type), text) for f in dataclasses.fields(cls) if f.name != "at"}
    return cls(at=1.0, **values)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_canary_vanishes_from_every_field_of_every_event_type(event_type):
    cls = EVENT_TYPES[event_type]
    encoded = base64.b64encode(f"apiVersion: v1\ntoken: {CANARY}\n".encode()).decode()
    text = f"cloning https://deploy-bot:{CANARY}@git.example.com/p.git\n{encoded}"
    event = event_full_of(cls, text)
    redacted = Redactor.from_secrets(SECRETS).redact_event(event)
    assert type(redacted) is cls
    record = json.dumps(redacted.to_record())
    assert leaks(record) == []
    assert CANARY not in record and encoded not in record
    string_fields = [f.name for f in dataclasses.fields(cls) if "str" in str(f.type)]
    assert string_fields, "every event type carries some text"
    for name in string_fields:
        assert PLACEHOLDER in str(getattr(redacted, name)), name
    assert event_from_record(redacted.to_record()) == redacted  # still a valid event


def test_multi_line_command_output_in_every_form():
    raw = CANARY.encode()
    output = "\n".join(
        [
            "+ kubectl get secret git-credentials -o yaml",
            "data:",
            f"  password: {base64.b64encode(raw).decode()}",
            f"  url-safe: {base64.urlsafe_b64encode(b'??' + raw).decode()}",
            f"  blob: {base64.b64encode(b'user=me&password=' + raw + b'&x=1').decode()}",
            f"  basic: Authorization: Basic {base64.b64encode(b'deploy-bot:' + raw).decode()}",
            f"  quoted: {urllib.parse.quote(TUNNEL, safe='')}",
            f"plain {CANARY} and tunnel {TUNNEL}",
        ]
    )
    wrapped = base64.encodebytes(b"x" * 50 + raw + b"y" * 40).decode()  # 76-column lines
    assert "\n" in wrapped.strip()
    redacted = Redactor.from_secrets(SECRETS).redact(output + "\n" + wrapped)
    assert leaks(redacted) == []
    assert TUNNEL not in redacted
    assert urllib.parse.quote(TUNNEL, safe="") not in redacted
    for offset in range(3):  # every alignment inside a longer base64 blob
        blob = base64.b64encode(b"p" * offset + raw + b"s").decode()
        assert Redactor([CANARY]).redact(blob).count(PLACEHOLDER) == 1, offset
    assert redacted.splitlines()[0] == "+ kubectl get secret git-credentials -o yaml"
    assert "deploy-bot" not in redacted.splitlines()[5]  # the basic pair is gone as a whole


def test_base64_wrapped_over_lines_is_caught():
    raw = CANARY.encode()
    for prefix in range(0, 60, 7):
        wrapped = base64.encodebytes(b"z" * prefix + raw + b"tail").decode()
        redacted = Redactor([CANARY]).redact(wrapped)
        assert PLACEHOLDER in redacted, prefix
        middle = base64.b64encode(raw).decode()[2:-4]
        assert middle not in redacted.replace("\n", "")


def test_text_without_secrets_is_untouched():
    redactor = Redactor.from_secrets(SECRETS)
    text = "Applied 12 manifests\nnode cp-1 Ready\n" + base64.b64encode(b"harmless data here").decode()
    assert redactor.redact(text) == text


def test_user_name_alone_is_not_redacted():
    assert Redactor.from_secrets(SECRETS).redact("pushed as deploy-bot") == "pushed as deploy-bot"


def test_no_secrets_means_no_change():
    redactor = Redactor([])
    assert not redactor
    event = event_full_of(EVENT_TYPES["StepOutput"], CANARY)
    assert redactor.redact_event(event) is event
    assert redactor.redact(CANARY) == CANARY


def test_overlapping_secrets_leave_nothing_behind():
    redactor = Redactor(["abcdefgh12345678", "abcdefgh"])
    assert redactor.redact("x abcdefgh12345678 y abcdefgh z") == f"x {PLACEHOLDER} y {PLACEHOLDER} z"


def test_nested_values_are_redacted():
    redactor = Redactor([CANARY])
    value = {"list": [CANARY, ("t", CANARY)], CANARY: 1}
    assert redactor.redact_value(value) == {"list": [PLACEHOLDER, ("t", PLACEHOLDER)], PLACEHOLDER: 1}
