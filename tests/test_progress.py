"""fastnn.progress: the plain bar in both its units, the tqdm fallback, and the epoch summary line."""
import io
import re

import pytest

from fastnn import progress


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_plain_bar_in_bytes_leaves_its_last_line():
    stream = io.StringIO()
    bar = progress.PlainBar("file.gz", 2_500_000, unit="B", stream=stream, interval=0.0)
    bar.update(1_000_000)
    assert stream.getvalue().endswith("file.gz:  40.0% (1.0 of 2.5 MB)")
    bar.update(1_500_000)
    bar.close()
    assert stream.getvalue().endswith("\rfile.gz: 100.0% (2.5 of 2.5 MB)\n")


def test_plain_bar_without_a_total_counts_megabytes():
    stream = io.StringIO()
    bar = progress.PlainBar("x", None, unit="B", stream=stream)
    bar.update(3_000_000)
    bar.close()
    assert stream.getvalue().endswith("x: 3.0 MB\n")


def test_plain_bar_in_images_wipes_itself():
    stream = io.StringIO()
    bar = progress.PlainBar("epoch 2/3", 60_000, unit="img", stream=stream, leave=False, interval=0.0)
    bar.update(40_960)
    assert re.search(r"epoch 2/3: 40,960/60,000 img   68%  [\d,]+ img/s$", stream.getvalue())
    width = len(stream.getvalue().split("\r")[-1])
    bar.close()
    assert stream.getvalue().endswith("\r" + " " * width + "\r")


def test_progress_bar_uses_tqdm_when_given_and_the_plain_bar_otherwise():
    seen = {}

    def fake_tqdm(**kwargs):
        seen.update(kwargs)
        return "a tqdm bar"

    assert progress.progress_bar("d", 10, unit="B", tqdm=fake_tqdm) == "a tqdm bar"
    assert seen["unit_divisor"] == 1024 and seen["total"] == 10 and seen["desc"] == "d"
    assert isinstance(progress.progress_bar("d", 10, tqdm=None), progress.PlainBar)


def test_epoch_progress_shows_a_bar_per_epoch_on_a_terminal_only():
    stream = FakeTerminal()
    bar = progress.EpochProgress(2, stream=stream, use_tqdm=False)
    bar.begin(10)
    bar(10, 10)
    bar.begin(10)  # closes the first
    bar(5, 10)
    bar.close()
    text = stream.getvalue()
    assert "epoch 1/2: 10/10 img  100%" in text and "epoch 2/2: 5/10 img" in text
    quiet = progress.EpochProgress(2, stream=io.StringIO(), use_tqdm=False)
    quiet.begin(10)
    quiet(10, 10)
    quiet.close()
    assert quiet.stream.getvalue() == ""


HISTORY = {"epoch": [1, 2], "lr": [0.02, 0.01], "loss": [0.2338, 0.0780], "accuracy": [0.9288, 0.9767],
           "val_loss": [0.1, 0.09], "val_accuracy": [0.9589, 0.9716], "seconds": [1.94, 2.0]}


def test_epoch_line_as_fastnn_train_prints_it():
    line = progress.epoch_line(HISTORY, 5, 60_000, val_label="test")
    assert line == "epoch 2/5  loss 0.0780  train  97.67%  test  97.16%  lr 0.01       2.00 s   30,000 img/s"


def test_epoch_line_without_plan_speed_or_validation():
    plain = {k: v for k, v in HISTORY.items() if not k.startswith("val_")}
    assert progress.epoch_line(plain) == "epoch 2  loss 0.0780  train  97.67%  lr 0.01       2.00 s"
    assert progress.epoch_line(HISTORY, 12).startswith("epoch  2/12  ")
    assert "val  97.16%" in progress.epoch_line(HISTORY)


def test_epoch_line_needs_an_epoch():
    with pytest.raises(ValueError, match="no completed epoch"):
        progress.epoch_line({"epoch": [], "loss": [], "accuracy": [], "seconds": []})
