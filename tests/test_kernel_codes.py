"""The registries' kernel codes are the integers the compiled kernels switch on.

The pure modules hold each code as a plain int (they import no kernels); this test reads the
kernels' own constants and holds the tables to them, so a code can change in one place only
by failing here. It also checks what fastnn.kernel_codes derives from the tables."""
import numpy as np
import pytest

from fastnn import kernel_codes, optim
from fastnn.activations import ACTIVATIONS, HIDDEN, OUTPUTS
from fastnn.kernels import rules as rule_kernels
from fastnn.kernels import sample as sample_kernels
from fastnn.losses import LOSSES
from fastnn.optim import UPDATE_RULES

# What each registry name is called in kernels/sample.py (activations, losses) and kernels/rules.py.
ACTIVATION_CONSTANTS = {"relu": "RELU", "sigmoid": "SIGMOID", "tanh": "TANH", "identity": "IDENTITY",
                        "softmax": "SOFTMAX"}
LOSS_CONSTANTS = {"cross_entropy": "CROSS_ENTROPY", "mse": "MSE"}
RULE_CONSTANTS = {"sgd": "SGD", "momentum": "MOMENTUM", "nesterov": "NESTEROV", "adam": "ADAM",
                  "rmsprop": "RMSPROP", "adagrad": "ADAGRAD"}


def test_every_registry_name_has_a_kernel_constant():
    assert set(ACTIVATION_CONSTANTS) == set(ACTIVATIONS)
    assert set(LOSS_CONSTANTS) == set(LOSSES)
    assert set(RULE_CONSTANTS) == set(UPDATE_RULES)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_codes_are_the_kernels(name):
    assert ACTIVATIONS[name].kernel_code == getattr(sample_kernels, ACTIVATION_CONSTANTS[name])


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_codes_are_the_kernels(name):
    assert LOSSES[name].kernel_code == getattr(sample_kernels, LOSS_CONSTANTS[name])


@pytest.mark.parametrize("name", sorted(UPDATE_RULES))
def test_update_rule_codes_are_the_kernels(name):
    assert UPDATE_RULES[name].kernel_code == getattr(rule_kernels, RULE_CONSTANTS[name])


def test_todays_codes():
    """The integers themselves (saved kernels and caches know them): RELU..SOFTMAX 0..4,
    CROSS_ENTROPY, MSE 0, 1, SGD..ADAGRAD 0..5."""
    assert [ACTIVATIONS[n].kernel_code for n in ("relu", "sigmoid", "tanh", "identity", "softmax")] == [0, 1, 2, 3, 4]
    assert [LOSSES[n].kernel_code for n in ("cross_entropy", "mse")] == [0, 1]
    assert [UPDATE_RULES[n].kernel_code for n in RULE_CONSTANTS] == [0, 1, 2, 3, 4, 5]


def test_kernel_constants_name_each_rules_hyperparameters():
    for name, rule in UPDATE_RULES.items():
        assert sorted(rule.kernel_constants) == sorted(rule.factory().hyperparams), name


def test_derived_codes():
    assert kernel_codes.HIDDEN_CODES == {n: ACTIVATIONS[n].kernel_code for n in HIDDEN}
    assert kernel_codes.OUTPUT_CODES == {n: ACTIVATIONS[n].kernel_code for n in OUTPUTS}
    assert kernel_codes.wiring_codes("tanh", "identity", "mse") == (sample_kernels.TANH, sample_kernels.IDENTITY,
                                                                     sample_kernels.MSE)


def test_kernel_rule_reads_the_constants_in_the_kernels_order():
    code, constants = kernel_codes.kernel_rule(optim.adam(lr=0.1, b1=0.8, b2=0.99, eps=1e-6))
    assert code == rule_kernels.ADAM
    assert constants.dtype == np.float64 and constants.tolist() == [0.8, 0.99, 1e-6]
    code, constants = kernel_codes.kernel_rule(optim.rmsprop(decay=0.5, eps=1e-7))
    assert code == rule_kernels.RMSPROP and constants.tolist() == [0.5, 1e-7]
    code, constants = kernel_codes.kernel_rule(optim.sgd())
    assert code == rule_kernels.SGD and constants.shape == (0,)


def test_kernel_rule_refuses_an_optimizer_of_ones_own():
    adam = optim.adam()
    own = optim.Optimizer(adam.init, lambda p, g, s: (p, s), "adam", adam.hyperparams, adam.lr)
    assert optim.is_builtin(adam) and not optim.is_builtin(own)
    with pytest.raises(ValueError, match=r"'adam' is not one of fastnn's built-in rules .*batch_size"):
        kernel_codes.kernel_rule(own)
    renamed = optim.Optimizer(adam.init, adam.update, "momentum", {"beta": 0.9}, adam.lr)  # adam's rule, wrong name
    assert not optim.is_builtin(renamed)
