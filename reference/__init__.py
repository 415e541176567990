"""The numpy reference: recurrent networks, backpropagation through time, update rules.

    import reference as ref
    m = ref.Elman(n_in=3, n_hidden=4, n_out=2, activation="tanh",
                  output="softmax", objective="ce")
    params = m.init_params(rng)
    trace = m.forward(params, x)            # trace.s (N, T, d), trace.y (N, T, k)
    grads = m.grad(params, x, d, horizon=None, times=None)
    params = ref.sgd(params, grads, lr=0.1)

Imports numpy only. Nothing here knows about grading.
"""

from reference.activations import HIDDEN, OUTPUT, softmax, softmax_jacobian
from reference.bidirectional import Bidirectional, BidirectionalTrace
from reference.elman import Elman, ElmanTrace
from reference.jacobians import jacobian_norms, state_jacobians
from reference.losses import OBJECTIVES
from reference.ordered_network import (
    explicit_state_derivative,
    implicit_state_derivative,
    total_state_derivatives,
)
from reference.recurrence import layer_backward, layer_forward, step_backward, step_forward
from reference.scalar_linear import scalar_linear_closed_forms, scalar_linear_states
from reference.stacked import Stacked, StackedTrace
from reference.stacked_weights import split_weights, stack_weights
from reference.training import TrainingRun, Trajectory, descent, train_chunks, train_steps
from reference.updates import SGD, Adagrad, clip_by_norm, clip_by_value, global_norm, sgd

__all__ = [
    "HIDDEN", "OUTPUT", "OBJECTIVES",
    "Elman", "ElmanTrace", "Stacked", "StackedTrace", "Bidirectional", "BidirectionalTrace",
    "step_forward", "step_backward", "layer_forward", "layer_backward",
    "sgd", "SGD", "Adagrad", "clip_by_value", "clip_by_norm", "global_norm",
    "train_chunks", "TrainingRun", "train_steps", "Trajectory", "descent",
    "scalar_linear_states", "scalar_linear_closed_forms",
    "state_jacobians", "jacobian_norms",
    "explicit_state_derivative", "implicit_state_derivative", "total_state_derivatives",
    "stack_weights", "split_weights",
    "softmax", "softmax_jacobian",
]
