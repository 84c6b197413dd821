"""bon's Hydra config groups, shipped in the wheel as the package ``bon.conf`` (pyproject.toml maps conf/ here).

Loaded with ``pkg://bon.conf`` (bon/run.py) or ``initialize_config_module("bon.conf")``: one way for a checkout and
an installed wheel alike. README, "Config", shows how a user adds groups of their own beside these.
"""
