"""The update rules' kernel codes under their former module name, for ``fastnn.optim`` only.

``fastnn.optim`` reads the codes here until it takes them from its own registry (issue 30:
the pure modules import no kernels); then this module goes. The kernels themselves are in
``sample`` (one sample's pieces), ``steps`` (one thread), ``threads`` and ``rules``.
"""
from .rules import ADAGRAD, ADAM, MOMENTUM, NESTEROV, RMSPROP, SGD  # noqa: F401
