"""Seeds 001 and 003: one recurrent layer written with a stacked weight matrix.

Seed 001 writes a^{<t>} = g(W_aa a^{<t-1>} + W_ax x^{<t>} + b_a) as
a^{<t>} = g(W_a [a^{<t-1>}, x^{<t>}] + b_a), "W_a is stacked W_aa, W_ax"; seed 003
does the same with tanh((W_hh W_xh)(h_{t-1}; x_t)). With row vectors (DESIGN.md)
the concatenation is a row and the blocks are stacked vertically:

    a_t = g(a_{t-1} W_aa + x_t W_ax + b_a) = g([a_{t-1}, x_t] W_a + b_a),
    W_a = [W_aa; W_ax]                     (d + n, d): W_aa's d rows first, then W_ax's n.

Nothing changes but the bookkeeping: the stacked layer is `recurrence`'s layer with
U = W_ax and W = W_aa, and its gradient is the split form's gradients stacked the
same way, ∇_{W_a} L = [∇_{W_aa} L; ∇_{W_ax} L].

Shapes: a_prev (N, d), x_t (N, n), W_aa (d, d), W_ax (n, d), W_a (d + n, d).
"""

from __future__ import annotations

import numpy as np


def stack_weights(W_aa, W_ax) -> np.ndarray:
    """W_a = [W_aa; W_ax]: (d + n, d) from W_aa (d, d) and W_ax (n, d)."""
    W_aa, W_ax = np.asarray(W_aa, dtype=np.float64), np.asarray(W_ax, dtype=np.float64)
    if W_aa.ndim != 2 or W_aa.shape[0] != W_aa.shape[1] or W_ax.ndim != 2 \
            or W_ax.shape[1] != W_aa.shape[1]:
        raise ValueError(f"W_aa must be (d, d) and W_ax (n, d), got {W_aa.shape} and "
                         f"{W_ax.shape}")
    return np.concatenate([W_aa, W_ax], axis=0)


def split_weights(W_a) -> tuple[np.ndarray, np.ndarray]:
    """(W_aa, W_ax) from W_a (d + n, d): the first d rows, then the rest."""
    W_a = np.asarray(W_a, dtype=np.float64)
    if W_a.ndim != 2 or W_a.shape[0] <= W_a.shape[1]:
        raise ValueError(f"W_a must be (d + n, d) with n ≥ 1, got {W_a.shape}")
    d = W_a.shape[1]
    return W_a[:d], W_a[d:]


def stacked_input(a_prev, x_t) -> np.ndarray:
    """[a_{t-1}, x_t]: (…, d + n) from a_prev (…, d) and x_t (…, n)."""
    return np.concatenate([np.asarray(a_prev, dtype=np.float64),
                           np.asarray(x_t, dtype=np.float64)], axis=-1)
