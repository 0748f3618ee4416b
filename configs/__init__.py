"""The embedded defaults: line configs (``*.toml``) and recipes (``recipes/*.toml``).

This directory is shipped in the built package as ``linecontrol.configs`` (package data,
every ``*.toml`` by glob) and read with ``importlib.resources``: see ``linecontrol.paths``.
"""
