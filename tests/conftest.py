"""Test-wide settings.

Every test runs with TALOS_PLATFORM_LOOPBACK_ONLY=1: code that could reach a network address
refuses anything but loopback, so a test can never send a packet to an example config's
private addresses.
"""

import os

os.environ["TALOS_PLATFORM_LOOPBACK_ONLY"] = "1"
