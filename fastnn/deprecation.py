"""Renamed keywords and keys: the old name keeps working, with a ``DeprecationWarning`` naming the new one.

One helper for every renamed public name, so each rename behaves the same: the old name gives the
same result as the new one, warns once per call site (Python's default filter), and giving both
names is a ``TypeError``. Renamed so far: the keyword ``output=`` (which said "output" but meant
the output layer's *activation*) is ``output_activation=``; ``fastnn.twin.sgd_epoch_numpy``
(which runs the samples it is given, an epoch or a chunk, as the kernel ``sgd_steps`` does) is
``sgd_steps_numpy``.
"""
from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, cast

__all__ = ["RENAMED", "renamed_keywords", "renamed_keys", "renamed_attributes"]

RENAMED: dict[str, str] = {"output": "output_activation"}
"""Each old public keyword (and wiring key) and its new name."""

F = TypeVar("F", bound=Callable[..., Any])


def renamed_keys(given: Mapping[str, Any], renames: Mapping[str, str], what: str, *, kind: str = "keyword",
                 stacklevel: int = 2) -> dict[str, Any]:
    """A copy of ``given`` with each old key (``renames``: old -> new) under its new name.

    Each old key found issues a ``DeprecationWarning`` that names the new one; ``stacklevel`` is
    what the caller would pass to :func:`warnings.warn` itself (2: the caller's caller).

    Raises
    ------
    TypeError
        If ``given`` holds both an old key and its new one.

    Examples
    --------
    >>> import warnings
    >>> from fastnn.deprecation import renamed_keys
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     renamed_keys({"output": "tanh"}, {"output": "output_activation"}, "forward()")
    {'output_activation': 'tanh'}
    >>> print(caught[0].message)
    forward(): the keyword output= is deprecated; use output_activation= (it means the same)
    >>> renamed_keys({"output": "tanh", "output_activation": "tanh"}, {"output": "output_activation"}, "forward()")
    Traceback (most recent call last):
    ...
    TypeError: forward() got both output_activation= and its deprecated name output=; give output_activation= only
    """
    out = dict(given)
    for old, new in renames.items():
        if old not in out:
            continue
        if new in out:
            raise TypeError(f"{what} got both {_spell(new, kind)} and its deprecated name {_spell(old, kind)}; "
                            f"give {_spell(new, kind)} only")
        warnings.warn(f"{what}: the {kind} {_spell(old, kind)} is deprecated; use {_spell(new, kind)} "
                      "(it means the same)", DeprecationWarning, stacklevel=stacklevel + 1)
        out = {(new if k == old else k): v for k, v in out.items()}  # same order, new name
    return out


def _spell(name: str, kind: str) -> str:
    return f"{name}=" if kind == "keyword" else repr(name)


def renamed_keywords(**renames: str) -> Callable[[F], F]:
    """Decorate a function whose keyword ``old`` was renamed ``new`` (``old="new"`` pairs).

    The function's signature names only the new keyword; a call that gives the old one runs as
    if it gave the new one, with a ``DeprecationWarning`` pointing at the call. Giving both is a
    ``TypeError``.

    Examples
    --------
    >>> import warnings
    >>> from fastnn.deprecation import renamed_keywords
    >>> @renamed_keywords(output="output_activation")
    ... def describe(*, output_activation="softmax"):
    ...     return output_activation
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     describe(output="tanh")
    'tanh'
    >>> caught[0].category.__name__
    'DeprecationWarning'
    """
    def decorate(fn: F) -> F:
        what = f"{fn.__name__}()"

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not renames.keys().isdisjoint(kwargs):
                kwargs = renamed_keys(kwargs, renames, what)  # the warning points at the call
            return fn(*args, **kwargs)

        return cast(F, wrapper)  # functools.wraps keeps fn's signature (inspect.signature, the docs)

    return decorate


def renamed_attributes(module: str, renames: Mapping[str, str], namespace: Mapping[str, Any]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) that gives each old name (``renames``: old -> new) as the new one.

    Reading an old name (``module.old`` or ``from module import old``) issues a
    ``DeprecationWarning`` that names the new one; ``namespace`` is the module's ``globals()``.

    Examples
    --------
    >>> import warnings
    >>> from fastnn.deprecation import renamed_attributes
    >>> getattr_ = renamed_attributes("mymodule", {"old": "new"}, {"new": 42})
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     getattr_("old")
    42
    >>> print(caught[0].message)
    mymodule.old is deprecated; use mymodule.new (it means the same)
    >>> getattr_("other")
    Traceback (most recent call last):
    ...
    AttributeError: module 'mymodule' has no attribute 'other'
    """
    def __getattr__(name: str) -> Any:
        if name in renames:
            warnings.warn(f"{module}.{name} is deprecated; use {module}.{renames[name]} (it means the same)",
                          DeprecationWarning, stacklevel=2)
            return namespace[renames[name]]
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
