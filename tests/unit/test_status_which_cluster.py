"""`status` with no cluster named: the only one there is, else the names to choose from."""

import pytest

from talos_platform.engine.state import state_directory_for
from talos_platform.main import main


@pytest.fixture
def state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    return tmp_path


def _with_runs(name: str, simulated: bool = False) -> None:
    state_directory_for(name, simulated=simulated).runs.mkdir(parents=True)


def test_the_one_simulated_cluster_needs_no_name(state_home, capsys):
    _with_runs("lab", simulated=True)

    code = main(["status", "--simulate"])

    assert code == 2  # found the cluster; it has no run journal yet
    error = capsys.readouterr().err
    assert "no install run" in error and "simulated/lab" in error


def test_several_clusters_are_named_for_the_user_to_choose(state_home, capsys):
    _with_runs("lab")
    _with_runs("prod")

    assert main(["status"]) == 2
    assert "runs of 2 clusters here: lab, prod; say which" in capsys.readouterr().err


def test_none_says_how_to_get_one(state_home, capsys):
    assert main(["status"]) == 2
    assert "add --simulate" in capsys.readouterr().err
