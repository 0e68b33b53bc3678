"""The README's Python examples run, in order, as written."""
import pathlib
import re

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]


def _python_blocks():
    text = (REPO / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_has_examples():
    assert len(_python_blocks()) >= 2


@pytest.mark.mnist
def test_readme_examples_run(mnist_dir, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("FASTNN_DATA", str(mnist_dir))
    monkeypatch.chdir(tmp_path)
    namespace = {}
    for block in _python_blocks():
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["meta"]["layer_sizes"] == [784, 128, 64, 10]
    assert namespace["history"]["val_accuracy"][-1] > 0.95
    assert int(namespace["state"]["step"]) == 1
    assert "[[" in capsys.readouterr().out  # the confusion matrix was printed
