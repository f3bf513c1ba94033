"""Steps, layers and the planner (config -> ordered plan)."""
