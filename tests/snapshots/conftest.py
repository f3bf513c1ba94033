"""The deterministic cluster states live beside the snapshot tests; both suites import them."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "snapshots"))
