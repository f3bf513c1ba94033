"""Test-wide settings.

Every test runs with TALOS_PLATFORM_LOOPBACK_ONLY=1: code that could reach a network address
refuses anything but loopback, so a test can never send a packet to an example config's
private addresses.
"""

import asyncio
import os
import socket
import subprocess

import pytest

os.environ["TALOS_PLATFORM_LOOPBACK_ONLY"] = "1"


@pytest.fixture
def no_process_no_socket(monkeypatch) -> list[str]:
    """Refuse (and record) every attempt to start a process or open a connection: for code
    that must contact nothing, such as an offline plan."""
    attempts: list[str] = []

    def refuse(what: str):
        def refused(*args, **kwargs):
            attempts.append(what)
            raise AssertionError(f"tried to {what}")

        return refused

    monkeypatch.setattr(asyncio, "create_subprocess_exec", refuse("start a process"))
    monkeypatch.setattr(asyncio, "create_subprocess_shell", refuse("start a shell"))
    monkeypatch.setattr(asyncio, "open_connection", refuse("open a connection"))
    monkeypatch.setattr(subprocess, "Popen", refuse("start a process"))
    monkeypatch.setattr(socket.socket, "connect", refuse("connect a socket"))
    return attempts
