"""Progress display and per-epoch reports, shared by the command line and the dataset downloader.

One tqdm loader (:func:`load_tqdm`), one bar factory (:func:`progress_bar`: tqdm when it is
installed, else :class:`PlainBar`, a line rewritten in place), the per-epoch bar that
``fastnn train`` feeds from :func:`fastnn.train`'s ``progress`` hook (:class:`EpochProgress`),
and the one-line summary of an epoch (:func:`epoch_line`).
"""
import sys
import time
from typing import Any, Optional, Protocol, TextIO

__all__ = ["load_tqdm", "progress_bar", "Bar", "PlainBar", "EpochProgress", "epoch_line"]


class Bar(Protocol):
    """What :func:`progress_bar` returns: tqdm's ``update(k)``/``close()`` interface.

    Examples
    --------
    >>> import io
    >>> from fastnn.progress import Bar, progress_bar
    >>> def count_to(n: int, bar: Bar) -> None:     # any object with update(k) and close()
    ...     for _ in range(n):
    ...         bar.update(1)
    ...     bar.close()
    >>> stream = io.StringIO()
    >>> count_to(5, progress_bar("items", 5, stream=stream, tqdm=None))
    >>> "5/5 it" in stream.getvalue()
    True
    """

    def update(self, k: int) -> Any: ...

    def close(self) -> None: ...


def load_tqdm() -> Optional[type]:
    """``tqdm.tqdm`` when tqdm is installed, else ``None``.

    Examples
    --------
    >>> from fastnn.progress import load_tqdm
    >>> tqdm = load_tqdm()
    >>> tqdm is None or callable(tqdm)
    True
    """
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class PlainBar:
    """A progress line on ``stream``, rewritten in place at most every ``interval`` seconds.

    ``unit="B"`` counts bytes and shows ``name: 42.0% (4.2 of 9.9 MB)``; any other unit shows
    ``name: 40,960/60,000 img  68%  31,200 img/s``. ``close()`` leaves the final line followed
    by a newline (``leave=True``) or wipes it so that the next line starts clean.
    The same ``update(k)``/``close()`` interface as tqdm.

    Examples
    --------
    >>> import io
    >>> from fastnn.progress import PlainBar
    >>> stream = io.StringIO()
    >>> bar = PlainBar("epoch 1", 100, unit="img", stream=stream)
    >>> bar.update(100)
    >>> bar.close()
    >>> "100/100 img" in stream.getvalue()
    True
    """

    def __init__(self, desc: str, total: Optional[float], *, unit: str = "it", stream: Optional[TextIO] = None,
                 leave: bool = True, interval: float = 0.1) -> None:
        self.desc, self.total, self.unit, self.leave, self.interval = desc, total, unit, leave, interval
        self.stream = stream or sys.stderr
        self.n, self.start, self.last, self.width = 0, time.perf_counter(), 0.0, 0

    def text(self) -> str:
        """The line as it reads now."""
        if self.unit == "B":
            mb = self.n / 1e6
            if self.total:
                return f"{self.desc}: {100 * self.n / self.total:5.1f}% ({mb:.1f} of {self.total / 1e6:.1f} MB)"
            return f"{self.desc}: {mb:.1f} MB"
        rate = self.n / max(time.perf_counter() - self.start, 1e-9)
        done = f"{self.n:,}/{self.total:,} {self.unit}  {100 * self.n / self.total:3.0f}%" if self.total else \
            f"{self.n:,} {self.unit}"
        return f"{self.desc}: {done}  {rate:,.0f} {self.unit}/s"

    def update(self, k: int) -> None:
        """Count ``k`` more; redraw if ``interval`` has passed or the total is reached."""
        self.n += k
        now = time.perf_counter()
        if now - self.last >= self.interval or (self.total and self.n >= self.total):
            self.last = now
            self._show()

    def _show(self) -> None:
        text = self.text()
        self.stream.write("\r" + text.ljust(self.width))
        self.stream.flush()
        self.width = len(text)

    def close(self) -> None:
        """Draw the final line and end it (``leave``), or wipe it."""
        if self.leave:
            self._show()
            self.stream.write("\n")
        elif self.width:
            self.stream.write("\r" + " " * self.width + "\r")
        self.stream.flush()


def progress_bar(desc: str, total: Optional[float], *, unit: str = "it", stream: Optional[TextIO] = None,
                 leave: bool = True, tqdm: Optional[type] = None) -> Bar:
    """A bar with ``update(k)`` and ``close()``: ``tqdm`` (a tqdm class, or None for a :class:`PlainBar`).

    Bytes (``unit="B"``) are scaled by 1024 in tqdm; other units by 1000.

    Examples
    --------
    >>> import io
    >>> from fastnn.progress import progress_bar, PlainBar
    >>> bar = progress_bar("download", 10, stream=io.StringIO(), tqdm=None)
    >>> isinstance(bar, PlainBar)
    True
    >>> bar.close()
    """
    stream = stream or sys.stderr
    if tqdm is None:
        return PlainBar(desc, total, unit=unit, stream=stream, leave=leave)
    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, unit_divisor=1024 if unit == "B" else 1000,
                leave=leave, file=stream, dynamic_ncols=True)


class EpochProgress:
    """A progress bar per epoch on stderr, fed by ``train``'s ``progress(done, total)`` hook.

    tqdm when installed (and ``use_tqdm``); otherwise a plain line rewritten in place.
    ``enabled=None`` shows it only when the stream (default stderr) is a terminal.

    Examples
    --------
    >>> import io, numpy as np, fastnn
    >>> from fastnn.progress import EpochProgress
    >>> stream = io.StringIO()
    >>> bar = EpochProgress(epochs=1, enabled=True, stream=stream, use_tqdm=False)
    >>> bar.begin(60000)                     # what train does at the start of an epoch
    >>> bar(60000, 60000)                    # and as it goes: samples done, samples in all
    >>> bar.close()
    >>> "60,000/60,000" in stream.getvalue()
    True
    """

    def __init__(self, epochs: Optional[int], enabled: Optional[bool] = None, stream: Optional[TextIO] = None,
                 use_tqdm: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.epochs = epochs
        self.epoch = 0
        self.tqdm = load_tqdm() if use_tqdm else None
        self.bar: Optional[Bar] = None
        self.done = 0

    def begin(self, total: int) -> None:
        """Start the bar of the next epoch (``total`` samples)."""
        self.close()
        self.epoch += 1
        self.done = 0
        if self.enabled:
            self.bar = progress_bar(f"epoch {self.epoch}/{self.epochs}", total, unit="img", stream=self.stream,
                                    leave=False, tqdm=self.tqdm)

    def __call__(self, done: int, total: int) -> None:
        """``train``'s progress hook: ``done`` of ``total`` samples of this epoch."""
        if self.bar is not None:
            self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        """Close this epoch's bar, if any."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def epoch_line(history: dict[str, Any], epochs: Optional[int] = None, n_samples: Optional[int] = None, *,
               val_label: str = "val") -> str:
    """One summary line of the last epoch in a :func:`fastnn.train` history.

    Parameters
    ----------
    history : dict
        ``epoch``, ``loss``, ``accuracy``, ``seconds`` lists, and ``val_accuracy``, ``lr`` when present.
    epochs : int, optional
        The number of epochs planned: shown as ``epoch 3/5`` (else ``epoch 3``).
    n_samples : int, optional
        Samples per epoch: adds the speed in images per second.
    val_label : str
        What the validation accuracy is called (``fastnn train`` says ``test``).

    Returns
    -------
    str
        e.g. ``epoch 1/5  loss 0.2338  train  92.88%  test  95.89%  lr 0.02       1.94 s   30,919 img/s``.

    Raises
    ------
    ValueError
        If ``history`` holds no completed epoch.

    Examples
    --------
    >>> from fastnn.progress import epoch_line
    >>> history = {"epoch": [1], "loss": [0.5], "accuracy": [0.9], "val_accuracy": [0.91],
    ...            "lr": [0.01], "seconds": [1.0]}
    >>> print(epoch_line(history, epochs=3, n_samples=1000))     # doctest: +NORMALIZE_WHITESPACE
    epoch 1/3  loss 0.5000  train  90.00%  val  91.00%  lr 0.01  1.00 s  1,000 img/s
    """
    if not isinstance(history, dict) or not history.get("epoch"):
        raise ValueError("history holds no completed epoch (expected train()'s history dict)")
    e = history["epoch"][-1]
    seconds = history["seconds"][-1]
    parts = [f"epoch {e:>{len(str(epochs))}}/{epochs}" if epochs else f"epoch {e}",
             f"loss {history['loss'][-1]:.4f}", f"train {100 * history['accuracy'][-1]:6.2f}%"]
    if history.get("val_accuracy"):
        parts.append(f"{val_label} {100 * history['val_accuracy'][-1]:6.2f}%")
    if history.get("lr"):
        parts.append(f"lr {history['lr'][-1]:<8.4g}")
    parts.append(f"{seconds:5.2f} s")
    if n_samples:
        parts.append(f"{n_samples / max(seconds, 1e-9):>7,.0f} img/s")
    return "  ".join(parts)
