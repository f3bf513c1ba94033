"""Colours that carry meaning, chosen to read on both the light and the dark theme, always paired
with a glyph or a word so nothing depends on colour alone."""

from __future__ import annotations

from rich.text import Text

from talos_platform.engine.observe.pressure import CRITICAL_PERCENT, HIGH_PERCENT

GOOD = "#2f9e44"
BAD = "#e03131"
WARN = "#d9480f"
WAIT = "#1c7ed6"
MUTED = "#868e96"

SPARK_CHARS = "▁▂▃▄▅▆▇█"


def number(value: int) -> str:
    """Counts read alike everywhere: `12,345`."""
    return f"{value:,}"


def good(text: str) -> Text:
    return Text(text, style=GOOD)


def bad(text: str) -> Text:
    return Text(text, style=f"bold {BAD}")


def warn(text: str) -> Text:
    return Text(text, style=WARN)


def muted(text: str) -> Text:
    return Text(text, style=MUTED)


def sparkline(values: tuple[float, ...], width: int = 8) -> str:
    """Percentages (0-100) as a row of block characters, newest on the right."""
    tail = values[-width:]
    return "".join(SPARK_CHARS[min(len(SPARK_CHARS) - 1, max(0, int(v / 100 * len(SPARK_CHARS))))] for v in tail)


def percent(value: float | None, history: tuple[float, ...]) -> Text:
    if value is None:
        return muted("-")
    style = f"bold {BAD}" if value >= CRITICAL_PERCENT else WARN if value >= HIGH_PERCENT else ""
    text = Text(f"{value:3.0f}% ", style=style)
    text.append(sparkline(history), style=MUTED)
    return text
