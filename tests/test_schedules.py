"""Learning-rate schedules: documented values, vectorised == scalar, lr_values, errors."""
import math

import numpy as np
import pytest

from fastnn import schedules as S


@pytest.mark.parametrize("schedule, t, expected", [
    (S.constant(0.1), 0, 0.1),
    (S.constant(0.1), 1000, 0.1),
    (S.inverse_time(1.0, 0.5), 0, 1.0),
    (S.inverse_time(1.0, 0.5), 2, 0.5),     # 1 / (1 + 0.5 * 2)
    (S.inverse_time(1.0, 0.5), 6, 0.25),    # 1 / (1 + 0.5 * 6)
    (S.step(0.1, 0.5, 10), 0, 0.1),
    (S.step(0.1, 0.5, 10), 9, 0.1),         # floor(9 / 10) = 0
    (S.step(0.1, 0.5, 10), 10, 0.05),
    (S.step(0.1, 0.5, 10), 25, 0.025),      # 0.1 * 0.5**2
    (S.exponential(0.1, 0.5), 0, 0.1),
    (S.exponential(0.1, 0.5), 3, 0.0125),   # 0.1 / 8
    (S.cosine(1.0, 10), 0, 1.0),
    (S.cosine(1.0, 10), 5, 0.5),            # (1 + cos(pi/2)) / 2
    (S.cosine(1.0, 10), 10, 0.0),
    (S.cosine(1.0, 10), 15, 0.0),           # flat after total
    (S.cosine(1.0, 4), 1, (1 + math.sqrt(0.5)) / 2),     # (1 + cos(pi/4)) / 2 = 0.853553...
    (S.cosine(1.0, 10, lr_min=0.1), 5, 0.55),            # 0.1 + 0.9 * 0.5
    (S.cosine(1.0, 10, lr_min=0.1), 20, 0.1),
])
def test_documented_values(schedule, t, expected):
    value = schedule(t)
    assert isinstance(value, float)
    assert value == pytest.approx(expected, rel=1e-12, abs=1e-15)
    assert schedule(np.int32(t)) == value


ALL = [S.constant(0.1), S.inverse_time(0.5, 0.01), S.step(0.1, 0.5, 7), S.exponential(0.1, 0.9),
       S.cosine(0.1, 20), S.cosine(0.1, 20, lr_min=0.01)]


@pytest.mark.parametrize("schedule", ALL, ids=repr)
def test_vectorised_equals_scalar(schedule):
    ts = np.arange(40)
    values = schedule(ts)
    assert isinstance(values, np.ndarray) and values.dtype == np.float64 and values.shape == (40,)
    assert values.tolist() == [schedule(int(t)) for t in ts]
    grid = schedule(ts.reshape(5, 8).astype(np.uint16))
    assert grid.shape == (5, 8) and np.array_equal(grid.ravel(), values)


def test_rebuild_from_name_and_hyperparams():
    for schedule in ALL:
        again = S.SCHEDULES[schedule.name](**schedule.hyperparams)
        assert np.array_equal(again(np.arange(30)), schedule(np.arange(30)))


def test_as_schedule():
    assert S.as_schedule(0.1)(3) == 0.1 and S.as_schedule(0.1).name == "constant"
    f = lambda t: 1.0 / (t + 1)
    assert S.as_schedule(f) is f
    with pytest.raises(TypeError, match="lr must be a positive number or a schedule"):
        S.as_schedule("0.1")
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got 0.0"):
        S.as_schedule(0)


def test_lr_values_calls_a_vectorised_schedule_once():
    calls = []

    def halving(t):
        calls.append(t)
        return 0.1 * 0.5 ** np.asarray(t)

    values = S.lr_values(halving, np.arange(4))
    assert values.tolist() == [0.1, 0.05, 0.025, 0.0125] and len(calls) == 1


@pytest.mark.parametrize("scalar_only", [
    lambda t: 0.1 if t < 2 else 0.01,              # truth value of an array is ambiguous
    lambda t: 0.1 * math.exp(-0.5 * t),            # math.exp of an array fails
    lambda t: 0.1 / (1 + np.max(t)),               # one scalar for a whole array: wrong shape
])
def test_lr_values_falls_back_to_a_loop_for_scalar_callables(scalar_only):
    values = S.lr_values(scalar_only, np.arange(4))
    assert values.shape == (4,)
    assert values.tolist() == [scalar_only(0), scalar_only(1), scalar_only(2), scalar_only(3)]
    assert len(set(values.tolist())) > 1


def test_lr_values_of_a_number_and_of_a_0d_step():
    assert S.lr_values(0.01, np.arange(3)).tolist() == [0.01] * 3
    assert S.lr_values(S.step(0.1, 0.5, 1), np.array(2)) == pytest.approx(0.025)


@pytest.mark.parametrize("schedule, match", [
    (lambda t: 0.1 if t != 3 else 0.0, "lr=0.0 at step t=3"),
    (lambda t: np.where(np.asarray(t) == 2, np.nan, 0.1), "lr=nan at step t=2"),
    (lambda t: -0.1, "lr=-0.1 at step t=0"),
    (lambda t: np.where(np.asarray(t) >= 1, np.inf, 0.1), "lr=inf at step t=1"),
    (S.cosine(1.0, 4), "at step t=4"),   # reaches lr_min = 0 at t = total
])
def test_lr_values_rejects_non_positive_or_non_finite_rates(schedule, match):
    with pytest.raises(ValueError, match=match):
        S.lr_values(schedule, np.arange(6))


def test_bad_step_counts_raise():
    with pytest.raises(ValueError, match=">= 0"):
        S.constant(0.1)(-1)
    with pytest.raises(ValueError, match=">= 0"):
        S.lr_values(0.1, np.array([0, -2]))
    with pytest.raises(TypeError, match="integer"):
        S.exponential(0.1, 0.9)(1.5)
    with pytest.raises(TypeError, match="integer"):
        S.lr_values(S.cosine(0.1, 10), np.linspace(0, 1, 3))


@pytest.mark.parametrize("build, match", [
    (lambda: S.constant(-0.1), "lr must be a finite number > 0, got -0.1"),
    (lambda: S.constant(float("inf")), "lr must be a finite number"),
    (lambda: S.inverse_time(0.1, -1.0), "k must be a finite number >= 0"),
    (lambda: S.step(0.1, 0.0, 10), "drop must be a finite number > 0 and <= 1"),
    (lambda: S.step(0.1, 1.5, 10), "drop"),
    (lambda: S.step(0.1, 0.5, 0), "every must be >= 1, got 0"),
    (lambda: S.exponential(0.1, 1.1), "gamma"),
    (lambda: S.cosine(0.1, 0), "total must be >= 1, got 0"),
    (lambda: S.cosine(0.1, 10, lr_min=0.2), "lr_min must be a finite number >= 0 and <= 0.1"),
    (lambda: S.cosine(0.1, 10, lr_min=-0.01), "lr_min"),
])
def test_bad_parameters_raise_value_error(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_non_numbers_raise_type_error():
    with pytest.raises(TypeError, match="lr0 must be a number"):
        S.exponential("0.1", 0.5)
    with pytest.raises(TypeError, match="every must be an integer"):
        S.step(0.1, 0.5, 2.5)
    with pytest.raises(TypeError, match="drop must be a number"):
        S.step(0.1, True, 10)


@pytest.mark.parametrize("schedule, unit, text", [
    (S.constant(0.02), "epoch", "0.02"),
    (S.inverse_time(0.02, 1), "epoch", "0.02/(1+epoch)"),
    (S.inverse_time(0.02, 0.5), "epoch", "0.02/(1+0.5*epoch)"),
    (S.exponential(0.02, 0.5), "epoch", "0.02*0.5^epoch"),
    (S.step(0.02, 0.1, 2), "epoch", "0.02*0.1^(epoch//2)"),
    (S.cosine(0.02, 5), "epoch", "cosine from 0.02 to 0 over 5 epochs"),
    (S.cosine(0.1, 20, lr_min=0.01), "step", "cosine from 0.1 to 0.01 over 20 steps"),
    (S.exponential(0.1, 0.9), "step", "0.1*0.9^step"),
])
def test_each_schedule_describes_itself(schedule, unit, text):
    assert schedule.describe(unit) == text
    assert str(schedule) == schedule.describe("step")


@pytest.mark.parametrize("schedule", ALL)
def test_description_agrees_with_the_values(schedule):
    """The formula, evaluated at a few steps, gives the schedule's own rates (cosine is described in words)."""
    text = schedule.describe("t")
    if text.startswith("cosine"):
        assert f"from {schedule(0):g} to " in text
        return
    for t in (0, 1, 5, 14):
        value = eval(text.replace("^", "**"), {"t": t})  # the formula as Python: only numbers and t
        assert value == pytest.approx(schedule(t), rel=1e-5)


def test_describe_refuses_a_unit_that_is_not_a_word():
    with pytest.raises(ValueError, match="unit"):
        S.constant(0.1).describe("1+")
