"""fastnn: fast, functional neural networks on the CPU."""
from ._version import __version__
