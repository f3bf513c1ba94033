"""Headless rendering, exit codes, `install` guard rails, `plan` and `status` output."""

import io
import json

from support.clock import ManualClock
from support.steps import CANARY, FakeStep, FakeWorld, fake_drivers, small_config

from talos_platform import exit_codes
from talos_platform.commands.plan import format_plan
from talos_platform.engine.config.secrets import Secrets
from talos_platform.engine.errors import PermanentError
from talos_platform.engine.plan.preview import offline_drivers
from talos_platform.engine.plan.step import Action
from talos_platform.engine.run.events import event_from_record
from talos_platform.engine.session import InstallSession
from talos_platform.engine.state import StateDirectory
from talos_platform.headless import run_session
from talos_platform.main import main


def make_session(tmp_path, world, *, fail=False):
    steps = [
        FakeStep("L0.secrets", world, output=(f"key {CANARY}",)),
        FakeStep("L1.cilium", world, layer=1, needs=("L0.secrets",)),
    ]
    if fail:
        steps[1].apply_errors.append(PermanentError(f"denied for {CANARY}", hint="fix the token"))
    return InstallSession(
        small_config(), Secrets(git_token=CANARY), StateDirectory(tmp_path), fake_drivers(), ManualClock(), steps=steps
    )


class Pipe(io.StringIO):
    def isatty(self):
        return False


def test_piped_output_is_plain_lines_labelled_simulated(tmp_path):
    stream = Pipe()
    code = run_session(make_session(tmp_path, FakeWorld(), fail=True), "text", stream)
    text = stream.getvalue()
    assert code == exit_codes.STEP_FAILED
    assert "SIMULATED install started" in text
    assert "SIMULATED [L0] L0.secrets | key [REDACTED]" in text
    assert "SIMULATED [L1] L1.cilium: FAILED: denied for [REDACTED]\n  hint: fix the token" in text
    assert "SIMULATED install failed in" in text.splitlines()[-1]
    assert CANARY not in text and "\x1b[" not in text


def test_json_output_is_one_event_per_line(tmp_path):
    stream = Pipe()
    code = run_session(make_session(tmp_path, FakeWorld()), "json", stream)
    assert code == exit_codes.OK
    lines = stream.getvalue().splitlines()
    events = [event_from_record(json.loads(line)) for line in lines]
    assert [e.type for e in events][0] == "RunStarted" and events[-1].outcome == "succeeded"
    assert any(e.type == "StepOutput" and e.line == "key [REDACTED]" for e in events)
    assert CANARY not in stream.getvalue()


def test_a_terminal_gets_the_rich_display(tmp_path):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    stream = Terminal()
    assert run_session(make_session(tmp_path, FakeWorld()), "text", stream) == exit_codes.OK
    text = stream.getvalue()
    assert "layer 0" in text.lower() and "L1.cilium" in text and CANARY not in text


def test_interrupted_run_exits_130(tmp_path):
    session = make_session(tmp_path, FakeWorld())
    session.interrupt()
    assert run_session(session, "text", Pipe()) == exit_codes.INTERRUPTED


def test_install_without_a_terminal_needs_yes(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    code = main(["install", "--config", "examples/docker-single.yaml"])
    assert code == exit_codes.INVALID_CONFIG
    assert "--yes" in capsys.readouterr().err


def test_install_reports_an_invalid_config_with_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("cluster: {name: x}\nnodes: []\n")
    assert (
        main(["install", "--yes", "--config", str(bad), "--state-dir", str(tmp_path / "s")])
        == exit_codes.INVALID_CONFIG
    )
    assert "error:" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


async def test_offline_plan_contacts_nothing_and_lists_every_step_to_do(tmp_path):
    world = FakeWorld(done={"L0.secrets"})  # done on the machines, but offline cannot know

    class Described(FakeStep):
        def planned_actions(self, ctx):
            return (Action("push", command=("git", "push", f"https://user:{CANARY}@git.example.com")),)

    class Contacting(FakeStep):
        async def check(self, ctx):
            await ctx.drivers.talos.node_facts("10.0.0.11", insecure=True)

        def planned_actions(self, ctx):
            raise NotImplementedError  # only the machines can tell

    steps = [
        FakeStep("L0.secrets", world),
        Described("L2.push", world, layer=2),
        Contacting("L0.node", world),
    ]
    session = InstallSession(
        small_config(), Secrets(git_token=CANARY), StateDirectory(tmp_path), offline_drivers(), steps=steps
    )
    previews = await session.preview(offline=True)
    assert {p.step_id: p.state for p in previews} == {"L0.secrets": "to do", "L0.node": "to do", "L2.push": "to do"}
    text = format_plan(previews, "demo", offline=True, simulated=False)
    assert "$ git push 'https://user:[REDACTED]@git.example.com'" in text
    assert "cannot list its commands without contacting" in text  # L0.node needed the machines
    assert CANARY not in text
    assert not (tmp_path / "runs").exists()


async def test_online_plan_shows_done_steps_and_commands(tmp_path):
    world = FakeWorld(done={"a"})
    steps = [FakeStep("a", world), FakeStep("b", world, needs=("a",))]
    session = InstallSession(small_config(), Secrets(), StateDirectory(tmp_path), fake_drivers(), steps=steps)
    previews = await session.preview()
    assert [(p.step_id, p.state) for p in previews] == [("a", "done"), ("b", "to do")]
    assert previews[1].actions[0].command == ("fake", "create", "b")
    assert world.applied == []
    text = format_plan(previews, "demo", offline=False, simulated=False)
    assert "[ done  ] a" in text and "$ fake create b" in text and "1 to do, 1 done" in text


def test_status_shows_the_last_run_and_its_failure(tmp_path, capsys):
    assert run_session(make_session(tmp_path, FakeWorld(), fail=True), "text", Pipe()) == exit_codes.STEP_FAILED
    capsys.readouterr()
    assert main(["status", "--state-dir", str(tmp_path)]) == exit_codes.STEP_FAILED
    text = capsys.readouterr().out
    assert "outcome: failed" in text and "FAILED" in text and "hint: fix the token" in text
    assert main(["status", "--state-dir", str(tmp_path), "--output", "json"]) == exit_codes.STEP_FAILED
    record = json.loads(capsys.readouterr().out)
    assert record["outcome"] == "failed"
    assert {s["stepId"]: s["state"] for s in record["steps"]} == {"L0.secrets": "succeeded", "L1.cilium": "failed"}
    assert CANARY not in json.dumps(record)


def test_status_without_runs_is_exit_2(tmp_path, capsys):
    assert main(["status", "--state-dir", str(tmp_path)]) == exit_codes.INVALID_CONFIG
    assert "no install run" in capsys.readouterr().err


def test_the_rich_display_shows_output_with_brackets_verbatim(tmp_path):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    world = FakeWorld()
    step = FakeStep("L0.bracketed", world, output=("[bold]not markup[/] [REDACTED] [/oops]",))
    session = InstallSession(
        small_config(), Secrets(), StateDirectory(tmp_path), fake_drivers(), ManualClock(), steps=[step]
    )
    stream = Terminal()
    assert run_session(session, "text", stream) == exit_codes.OK


def test_install_finds_the_wizards_secrets_file_in_the_state_directory(tmp_path, capsys, monkeypatch):
    """The wizard keeps secrets in the state directory; the install command it prints must
    work without repeating --secrets."""
    for name in ("GIT_USERNAME", "GIT_TOKEN", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_TUNNEL_TOKEN"):
        monkeypatch.delenv(f"TALOS_PLATFORM_{name}", raising=False)
    state = tmp_path / "state"
    argv = ["install", "--yes", "--config", "examples/metal-3cp-3w.yaml", "--state-dir", str(state)]
    assert main(argv) == exit_codes.INVALID_CONFIG
    assert "secrets.gitToken" in capsys.readouterr().err

    from talos_platform.engine.config.secrets import Secrets, write_secrets_file

    state.mkdir()
    write_secrets_file(
        state / "secrets.yaml",
        Secrets(
            git_username="deploy-bot",
            git_token="token-for-the-test-1",
            cloudflare_api_token="token-for-the-test-2",
            cloudflare_tunnel_token="token-for-the-test-3",
        ),
    )
    # Past validation now: the real drivers then refuse the example's private addresses
    # (loopback-only under test), so the run fails at a step, not on missing secrets.
    assert main(argv) == exit_codes.STEP_FAILED
    captured = capsys.readouterr()
    assert "secrets.gitToken" not in captured.err
    assert "token-for-the-test" not in captured.out + captured.err
