"""Training time to 98.0% MNIST test accuracy: fastnn per-sample recipes vs PyTorch Adam (issue 5).

Each contender trains on the 60,000 images epoch by epoch and is evaluated on the 10,000
test images after every epoch until it reaches 98.0%. The benchmark's clock stops during
the evaluations (``recipes.TrainingClock``), so the times are training time only.

Quick mode (``--benchmark-disable``): one epoch on 1,000 samples, checked to beat chance.
Run:  FASTNN_DATA=../shared/mnist python -m pytest bench/bench_time_to_accuracy.py
"""
import pytest

import peers
import recipes

GROUP = f"time to {recipes.TARGET:.1%} test accuracy (training only)"
CLOCK = recipes.TrainingClock()
ROUNDS = 2
"""Rounds per fastnn recipe (a few seconds each); PyTorch's race (~15 epochs, ~35 s) runs once."""


def _race(benchmark, quick, mnist, summary, run, rounds=ROUNDS):
    (X, y), (Xt, yt) = mnist
    if quick:
        race = benchmark.pedantic(run, args=(X[:1000], y[:1000], Xt[:2000], yt[:2000]),
                                  kwargs=dict(target=None, max_epochs=1, clock=CLOCK))
        assert race.epochs == 1 and race.accuracy > 0.5, race
        return race
    race = benchmark.pedantic(run, args=(X, y, Xt, yt), kwargs=dict(clock=CLOCK), rounds=rounds)
    assert race.reached, f"{race.name} did not reach {recipes.TARGET:.1%}: {race.curve}"
    benchmark.extra_info.update(epochs=race.epochs, test_accuracy=race.accuracy, curve=race.curve)
    summary(GROUP, f"{race.name:40s} {benchmark.stats.stats.median:6.2f} s  {race.epochs} epochs  "
                   f"test acc {race.accuracy:.4f}")
    return race


@pytest.mark.benchmark(timer=CLOCK.now)
@pytest.mark.parametrize("key", list(recipes.RECIPES))
def test_fastnn_recipe(benchmark, key, quick, mnist, summary):
    recipe = recipes.RECIPES[key]
    benchmark.group = GROUP
    benchmark.name = f"{recipe.name}: {recipe.describe()}"
    _race(benchmark, quick, mnist, summary, lambda *a, **k: recipes.fastnn_race(recipe, *a, **k))


@pytest.mark.benchmark(timer=CLOCK.now)
def test_torch_adam(benchmark, quick, mnist, summary):
    if peers.missing_reason("torch"):
        pytest.skip(peers.missing_reason("torch"))
    benchmark.group = GROUP
    benchmark.name = f"PyTorch: {recipes.describe_torch_adam()}"
    _race(benchmark, quick, mnist, summary, recipes.torch_adam_race, rounds=1)
