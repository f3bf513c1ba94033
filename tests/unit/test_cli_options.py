"""Simulation options without a simulation, or a speed that is no speed, are refused up front."""

import pytest

from talos_platform.main import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["install", "--config", "platform.yaml", "--scenario", "faults"], "--scenario only applies to a simulation"),
        (["dashboard", "--seed", "3"], "--seed only applies to a simulation"),
        (["dashboard", "--scenario", "crash-loop", "--seed", "2"], "--scenario and --seed only apply to a simulation"),
        (["--scenario", "crash-loop"], "--scenario only applies to a simulation"),
        (["dashboard", "--simulate", "--speed", "0"], "--speed must be above 0"),
        (["dashboard", "--simulate", "--speed", "-2"], "--speed must be above 0"),
        (["dashboard", "--simulate", "--speed", "nan"], "--speed must be above 0"),
    ],
)
def test_refused_with_the_option_named(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert message in capsys.readouterr().err
