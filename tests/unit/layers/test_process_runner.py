"""The one process runner: output streaming, redaction, timeouts, dry-run."""

import sys

import pytest

from talos_platform.engine.drivers.process import CommandFailed, CommandTimedOut, ProcessRunner, ToolMissing, output_to

PY = sys.executable


def redact_token(text: str) -> str:
    return text.replace("s3cret", "[REDACTED]")


async def test_lines_stream_to_the_callback_redacted_and_stdout_is_kept_for_parsers():
    lines = []
    runner = ProcessRunner(redact=redact_token)
    result = await runner.run(
        [PY, "-c", "import sys; print('one'); print('token s3cret'); print('warn', file=sys.stderr)"],
        timeout=10,
        on_line=lambda line, stream: lines.append((stream, line)),
    )
    assert ("stdout", "one") in lines
    assert ("stdout", "token [REDACTED]") in lines
    assert ("stderr", "warn") in lines
    assert "s3cret" in result.stdout  # parsers see the real output; it is never logged as is


async def test_secrets_go_through_stdin_and_argv_is_redacted_in_records():
    runner = ProcessRunner(redact=redact_token)
    result = await runner.run(
        [PY, "-c", "import sys; print(sys.stdin.read().upper())", "s3cret"], timeout=10, stdin=b"abc", quiet=True
    )
    assert result.stdout.strip() == "ABC"
    assert runner.recorded[-1][-1] == "[REDACTED]"


async def test_output_goes_to_the_callback_of_the_current_task():
    seen = []
    runner = ProcessRunner()
    with output_to(lambda line, stream: seen.append(line)):
        await runner.run([PY, "-c", "print('hello')"], timeout=10)
    assert seen == ["hello"]


async def test_quiet_commands_do_not_stream_stdout():
    seen = []
    runner = ProcessRunner()
    await runner.run(
        [PY, "-c", "print('kubeconfig-data')"], timeout=10, quiet=True, on_line=lambda line, s: seen.append(line)
    )
    assert seen == []


async def test_a_failing_command_raises_with_the_redacted_stderr_tail():
    runner = ProcessRunner(redact=redact_token)
    with pytest.raises(CommandFailed) as failure:
        await runner.run([PY, "-c", "import sys; print('bad s3cret', file=sys.stderr); sys.exit(3)"], timeout=10)
    assert failure.value.returncode == 3
    assert "bad [REDACTED]" in str(failure.value)
    assert "s3cret" not in str(failure.value)


async def test_check_false_returns_the_exit_code():
    result = await ProcessRunner().run([PY, "-c", "raise SystemExit(2)"], timeout=10, check=False)
    assert result.returncode == 2


async def test_a_command_past_its_timeout_is_killed():
    with pytest.raises(CommandTimedOut):
        await ProcessRunner().run([PY, "-c", "import time; time.sleep(30)"], timeout=0.5)


async def test_a_missing_tool_is_a_permanent_error_with_a_hint():
    with pytest.raises(ToolMissing) as missing:
        await ProcessRunner().run(["talosctl-that-does-not-exist", "version"], timeout=5)
    assert "PATH" in missing.value.hint


async def test_dry_run_records_changes_but_still_runs_read_only_commands():
    runner = ProcessRunner(dry_run=True)
    changed = await runner.run(["talosctl", "apply-config", "--nodes", "10.0.0.11"], timeout=5)
    assert changed.dry_run and changed.returncode == 0
    read = await runner.run([PY, "-c", "print('facts')"], timeout=10, mutates=False)
    assert read.stdout.strip() == "facts"
    assert runner.recorded[0] == ("talosctl", "apply-config", "--nodes", "10.0.0.11")
