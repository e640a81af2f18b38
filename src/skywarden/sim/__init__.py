"""Scenario simulator: synthetic drones, aircraft and birds seen by radar, Remote ID and ADS-B.

It produces the same observation JSON Lines the live sources do, plus the ground truth to
score against. It models detection only; nothing here steers or acts on any aircraft.

Example:
    >>> from skywarden.sim import load_scenario, simulate
    >>> result = simulate(load_scenario("gatwick-2018"), seed=0)
    >>> result.observations[0].t >= result.scenario.start_time
    True

Modules: :mod:`~skywarden.sim.scenario` (the scenario format and its validation),
:mod:`~skywarden.sim.engine` (motion and sensing), :mod:`~skywarden.sim.files` (output files,
including the truth format), :mod:`~skywarden.sim.synthetic` (benchmark scenarios).
"""

from skywarden.sim.engine import SimulationResult, simulate
from skywarden.sim.files import TruthSample, decode_truth, read_truth, write_simulation
from skywarden.sim.scenario import Scenario, ScenarioError, list_builtin_scenarios, load_scenario, parse_scenario
from skywarden.sim.synthetic import synthetic_swarm

__all__ = [
    "Scenario",
    "ScenarioError",
    "SimulationResult",
    "TruthSample",
    "decode_truth",
    "list_builtin_scenarios",
    "load_scenario",
    "parse_scenario",
    "read_truth",
    "simulate",
    "synthetic_swarm",
    "write_simulation",
]
