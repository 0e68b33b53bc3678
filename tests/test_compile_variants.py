"""bench/compile_variants.py edits copies of kernels/sample.py and steps.py as text: the edits must still apply."""
import importlib.util
import os

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


@pytest.fixture(scope="module")
def compile_variants():
    spec = importlib.util.spec_from_file_location("compile_variants", os.path.join(HERE, "..", "bench",
                                                                                  "compile_variants.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_variant_is_a_module_that_imports(compile_variants, tmp_path, monkeypatch):
    sources = compile_variants.variant_sources()  # exits if an edit no longer finds its text
    assert set(sources) == {"as is", "constant codes", "all inlined", "only this call"}
    assert len({len(src) for src in sources.values()}) == 4  # each edit changed something
    monkeypatch.syspath_prepend(str(tmp_path))
    for i, (name, src) in enumerate(sources.items()):
        assert "from ." not in src and "cache=True" not in src and "kernels.sample" not in src, name
        (tmp_path / f"variant_{i}.py").write_text(src)
        module = importlib.import_module(f"variant_{i}")  # imports resolve; nothing is compiled yet
        assert callable(module.sgd_steps), name
