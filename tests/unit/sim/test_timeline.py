"""The fault timeline says what is about to happen and what is under way, by virtual time."""

import math

import pytest

from talos_platform.engine.sim import simulated_platform
from talos_platform.engine.sim.scenarios import DAY_TWO, list_scenarios, load_scenario
from talos_platform.engine.sim.timeline import FaultTimeline


def test_a_one_off_fault_is_announced_then_shown_under_way():
    timeline = FaultTimeline()
    timeline.add(160.0, "worker-3 loses power", under_way="worker-3 is powered off")
    assert timeline.outlook(100.0) == "in 60 s: worker-3 loses power"
    assert timeline.outlook(170.0) == "now: worker-3 is powered off"


def test_a_fault_with_an_end_counts_down_and_then_is_gone():
    timeline = FaultTimeline()
    timeline.add(10.0, "the API goes away", duration=45.0, under_way="the API is unreachable")
    assert timeline.outlook(20.0) == "now: the API is unreachable (35 s more)"
    assert timeline.outlook(60.0) == ""


def test_a_recurring_fault_announces_its_next_occurrence_and_only_the_nearest_is_shown():
    timeline = FaultTimeline()
    timeline.add(30.0, "a burst", duration=20.0, every=300.0, tag="burst")
    timeline.add(500.0, "later")
    assert timeline.outlook(60.0) == "in 270 s: a burst"
    assert timeline.outlook(335.0) == "now: a burst (15 s more) · in 165 s: later"
    timeline.drop("burst")
    assert timeline.outlook(60.0) == "in 440 s: later"


DAY_TWO_SCENARIOS = [name for name in list_scenarios() if load_scenario(name)[0].faults_of(DAY_TWO)]


@pytest.mark.parametrize("scenario", DAY_TWO_SCENARIOS)
def test_every_day_two_fault_of_a_scenario_is_on_its_timeline(scenario):
    """Each day-2 fault gets its own entry on an installed platform's timeline (a drop burst one
    for all its repeats), so none can arrive on the dashboard unannounced."""
    platform = simulated_platform(scenario, speed=math.inf, installed=True)
    try:
        faults = platform.scenario.faults_of(DAY_TWO)
        assert len(platform.model.timeline.faults) == len(faults), [f.text for f in platform.model.timeline.faults]
    finally:
        platform.close()


def test_an_etcd_learner_never_promoted_is_said_from_the_start():
    platform = simulated_platform("etcd-alarm", speed=math.inf, installed=True)
    try:
        outlook = platform.model.timeline.outlook(platform.clock.now())
    finally:
        platform.close()
    assert "now: cp-3's etcd member is a learner that is never promoted" in outlook
