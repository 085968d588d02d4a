"""Scenario files shipped with ucsim (``default.toml``); read them with :mod:`importlib.resources`."""
