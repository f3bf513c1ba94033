"""Guard rails around the state directory and the command line (issue 17, items 3 and 4):
the lock is taken before anything there is touched, `status` tells a live install from a
killed one, and bad input ends with exit 2 and a message, never a traceback."""

import json
import os
import stat

import pytest

from talos_platform import exit_codes
from talos_platform.engine.state import StateDirectory
from talos_platform.main import main


def simulate(state_dir, *extra):
    return main(["install", "--simulate", "--speed", "inf", "--output", "json", "--state-dir", str(state_dir), *extra])


def test_a_refused_second_install_leaves_the_running_ones_simulated_cluster_alone(tmp_path, capsys):
    state = StateDirectory(tmp_path / "s")
    assert simulate(state.root, "--only", "L0.preflight.tools") == exit_codes.OK
    journal = state.root / "simulation.jsonl"
    before = journal.read_bytes()
    with StateDirectory(state.root).lock():  # the first install, still running
        code = simulate(state.root, "--seed", "99")
    captured = capsys.readouterr()
    assert code == exit_codes.INVALID_CONFIG
    assert "another install is running" in captured.err
    assert "starting a new simulated cluster" not in captured.out + captured.err
    assert journal.read_bytes() == before


def test_status_during_a_live_install_says_running_and_gives_no_resume_advice(tmp_path, capsys):
    state = StateDirectory(tmp_path / "s")
    assert simulate(state.root, "--only", "L0.preflight.tools") == exit_codes.OK
    runs = sorted(state.runs.iterdir())
    # A second run that has started and not finished yet, while its install holds the lock.
    live = state.runs / "29990101T000000000000Z-abcdef"
    live.mkdir()
    (live / "events.jsonl").write_text(
        json.dumps({"type": "RunStarted", "at": 1, "run_id": live.name, "steps": ["L0.preflight.tools"]})
        + "\n"
        + json.dumps({"type": "StepStarted", "at": 2, "step_id": "L0.preflight.tools", "layer": 0, "title": "t"})
        + "\n"
    )
    capsys.readouterr()
    with StateDirectory(state.root).lock():
        main(["status", "--state-dir", str(state.root)])
        text = capsys.readouterr().out
        main(["status", "--state-dir", str(state.root), "--output", "json"])
        record = json.loads(capsys.readouterr().out)
    assert "outcome: running" in text and "killed" not in text
    assert "run `talos-platform install` again" not in text
    assert "running    L0.preflight.tools" in text
    assert record["outcome"] == "running"
    # Once the lock is gone the same journal is a killed run again.
    main(["status", "--state-dir", str(state.root)])
    assert "outcome: killed" in capsys.readouterr().out
    assert runs


@pytest.mark.parametrize(
    "flags, says",
    [
        (["--concurrency", "0"], "--concurrency"),
        (["--concurrency", "-3"], "--concurrency"),
        (["--concurrency", "many"], "--concurrency"),
        (["--speed", "-1"], "--speed"),
        (["--speed", "0"], "--speed"),
        (["--speed", "nan"], "--speed"),
    ],
)
def test_bad_numbers_on_the_command_line_are_exit_2_and_write_nothing(tmp_path, capsys, flags, says):
    with pytest.raises(SystemExit) as exit_:
        simulate(tmp_path / "s", *flags)
    assert exit_.value.code == exit_codes.INVALID_CONFIG
    assert says in capsys.readouterr().err
    assert not (tmp_path / "s").exists()  # no empty run journal for `status` to call killed


def test_speed_inf_is_still_accepted(tmp_path):
    assert simulate(tmp_path / "s", "--only", "L0.preflight.tools") == exit_codes.OK


def test_a_state_dir_that_is_a_file_is_exit_2(tmp_path, capsys):
    regular = tmp_path / "file"
    regular.write_text("not a folder\n")
    assert simulate(regular) == exit_codes.INVALID_CONFIG
    err = capsys.readouterr().err
    assert "is a file, not a folder" in err and "Traceback" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only modes")
def test_a_new_state_dir_under_a_read_only_parent_is_exit_2(tmp_path, capsys):
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert simulate(parent / "s") == exit_codes.INVALID_CONFIG
    finally:
        parent.chmod(0o700)
    assert "cannot write the state directory" in capsys.readouterr().err


def test_an_unwritable_state_dir_is_exit_2_even_as_root(tmp_path, capsys, monkeypatch):
    """Root ignores file modes, so the failure is made where the simulated journal is rewritten."""
    state = tmp_path / "s"
    assert simulate(state, "--only", "L0.preflight.tools") == exit_codes.OK
    with open(state / "simulation.jsonl", "a") as journal:
        journal.write('{"at": 3, "chan')  # torn by a kill: the next start rewrites the file
    real_open = os.open

    def refuse(path, *args, **kwargs):
        if str(path).endswith("simulation.jsonl.tmp"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)
    capsys.readouterr()
    assert simulate(state) == exit_codes.INVALID_CONFIG
    err = capsys.readouterr().err
    assert "cannot write the state directory" in err and "Permission denied" in err


@pytest.mark.parametrize(
    "line", ['{"at":1,"change":"bogus"}', '{"at":1}', '{"change":"bootstrap"}', "[1]", '{"at":1,"change":"bootstrap"}']
)
def test_a_malformed_simulation_journal_line_is_exit_2_naming_the_file(tmp_path, capsys, line):
    state = tmp_path / "s"
    assert simulate(state, "--only", "L0.preflight.tools") == exit_codes.OK
    with open(state / "simulation.jsonl", "a") as journal:
        journal.write(line + "\n")
    capsys.readouterr()
    assert simulate(state) == exit_codes.INVALID_CONFIG
    err = capsys.readouterr().err
    assert "simulation.jsonl" in err and "line " in err and "move that file away" in err


def test_a_relative_state_directory_writes_where_it_says(tmp_path, monkeypatch):
    """`--state-dir st`: a path derived from the root and handed back to it (the secrets bundle)
    lands in st/, not in st/st/."""
    monkeypatch.chdir(tmp_path)
    state = StateDirectory("st")
    state.write_secret(state.talos_secrets, b"bundle")
    assert (tmp_path / "st" / "talos" / "secrets.yaml").read_bytes() == b"bundle"
    assert not (tmp_path / "st" / "st").exists()
