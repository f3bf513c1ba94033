"""The engine: config, plan, runner, drivers, rendering, observation, simulation.

It never imports a user interface (textual, questionary); a test enforces that.
"""
