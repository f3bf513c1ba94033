"""What tests share: fakes of the driver protocols (`drivers`), fake steps over a fake world
(`steps`), a manual clock (`clock`), waits for a running Textual app (`waits`) and fixed cluster
states for the TUI (`cluster_data`).

Importable as `support` from every test: pyproject.toml puts `tests/` on pytest's `pythonpath`.
"""
