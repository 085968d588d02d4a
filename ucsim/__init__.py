"""``ucsim``: the command line over the specification and the simulator."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ucsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+source"
