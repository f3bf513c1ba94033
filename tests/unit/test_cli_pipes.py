"""Output piped into a reader that stops early (`| head`) ends quietly."""

import subprocess
import sys


def test_a_closed_pipe_ends_the_command_quietly():
    command = [sys.executable, "-m", "talos_platform", "schema"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # closed before the command has written a byte: every write fails

    stderr = process.stderr.read().decode()
    code = process.wait(timeout=60)

    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert code == 0
