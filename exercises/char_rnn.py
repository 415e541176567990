"""Exercise `char-rnn`: seed 004's autocompletion over {d, e, p, <stop>}, trained by SGD.

Notation of seed 004 for one word of T characters (row vectors, 0-based steps):
x_t ∈ ℝ⁴ the one-hot character, s_t ∈ ℝᵈ, y_t ∈ ℝ⁴ the predicted distribution of
the next character, U ∈ ℝ^{4×d}, W ∈ ℝ^{d×d}, V ∈ ℝ^{d×4}, biases b ∈ ℝᵈ, c ∈ ℝ⁴:

    s_t = φ(x_t U + s_{t-1} W + b),   y_t = softmax(s_t V + c),
    L = Σ_t L_t,   L_t = −log y_{t,c_t}   (c_t the index of the true next character)

The vocabulary is ordered d, e, p, <stop> (indices 0…3); the target at the last
character is <stop>. One word is a batch of N = 1, so DESIGN.md's
L = (1/N) Σ_n Σ_t ℓ is the seed's L = Σ_t L_t. Training (`train`) takes
`k_updates` plain SGD steps, update i on the word words[i mod len(words)],
each word from the constant starting state s_0 = 0.

The variant's sizes are fixed by the vocabulary (n_in = n_out = 4, N = 1);
its T is unused, since every word sets its own length. The extras are the
number of training words and of updates.

The right answers come from `reference.Elman(4, d, 4, φ, "softmax", "ce")`
and `reference.sgd`; the bugs reuse the Elman exercise's BPTT with one
misconception switched on at a time.
"""

from __future__ import annotations

import numpy as np

import reference as ref
from exercises.corrections import derivative_through_state
from exercises.elman import buggy_bptt, random_model, saturating
from exercises.spec import (
    Bug,
    Exercise,
    GradientOf,
    Instance,
    Probe,
    Stage,
    Variant,
    bugs_from,
)
from reference import activations

VOCABULARY = ("d", "e", "p", "<stop>")
STOP = 3
WORDS = ("deep", "peed", "dee", "ped", "pee", "deed", "peep", "dep", "epee", "ede")
PARAMETERS = ("U", "W", "b", "V", "c")

# -- data for the probes ----------------------------------------------------------------


def model_of(variant: Variant, params=None) -> ref.Elman:
    """The network over the 4 symbols; its state size is the parameters' when given (a
    student's code reads sizes from its arguments), else the variant's."""
    d = np.shape(params["W"])[0] if params is not None else variant.n_hidden
    return ref.Elman(4, d, 4, activation=variant.activation, output="softmax", objective="ce")


def random_word(rng: np.random.Generator, low: int = 2, high: int = 6) -> str:
    """A string over {d, e, p}, not necessarily a word."""
    return "".join(rng.choice(list("dep"), int(rng.integers(low, high + 1))))


def training_words(variant: Variant, rng: np.random.Generator) -> list[str]:
    """A few words of the list, in the student's order."""
    count = variant.get("n_words", 3)
    return [str(word) for word in rng.choice(WORDS, size=count, replace=False)]


def random_state(variant: Variant, rng: np.random.Generator) -> np.ndarray:
    if variant.activation == "sigmoid":
        return rng.uniform(0.05, 0.95, variant.n_hidden)
    return rng.uniform(-0.9, 0.9, variant.n_hidden)


# -- the right answers, in the student's signatures ---------------------------------------


def solve_encode(variant, word):
    index = [VOCABULARY.index(character) for character in word]
    x = np.eye(4)[index]
    targets = np.eye(4)[index[1:] + [STOP]]
    return x, targets


def solve_forward(variant, params, x, s0):
    trace = model_of(variant, params).forward(params, np.asarray(x)[None],
                                              s0=np.asarray(s0)[None])
    return trace.s[0], trace.y[0]


def solve_loss(variant, y, targets):
    return float(-np.sum(targets * np.log(y)))


def solve_grads(variant, params, x, targets, s0):
    grads = model_of(variant, params).grad(params, np.asarray(x)[None],
                                           np.asarray(targets)[None], s0=np.asarray(s0)[None])
    return {key: grads[key] for key in PARAMETERS}


def solve_train(variant, params, words, lr, k_updates):
    model = model_of(variant, params)
    params = {key: np.asarray(params[key], dtype=np.float64) for key in PARAMETERS}
    for i in range(k_updates):
        x, targets = solve_encode(variant, words[i % len(words)])
        params = ref.sgd(params, model.grad(params, x[None], targets[None]), lr)
    return params


MEMORIES = tuple(f"m{key}" for key in PARAMETERS)      # min-char-rnn's mWxh, …: mU, mW, …
EPSILON = 1e-8


def solve_adagrad(variant, params, grads, memory, lr):
    """min-char-rnn's step: m ← m + g², θ ← θ − α g / √(m + ε), by `reference.Adagrad`."""
    memory = {key: np.asarray(memory[f"m{key}"], dtype=np.float64) for key in PARAMETERS}
    params = {key: np.asarray(params[key], dtype=np.float64) for key in PARAMETERS}
    new, memory = ref.Adagrad(lr, EPSILON).update(params, grads, memory)
    return {**new, **{f"m{key}": memory[key] for key in PARAMETERS}}


def words_loss(variant: Variant, params, words) -> float:
    """Σ over the words of L(word), each from s_0 = 0: what training should bring down."""
    model = model_of(variant, params)
    total = 0.0
    for word in words:
        x, targets = solve_encode(variant, word)
        total += model.loss(params, x[None], targets[None])
    return total


# -- the bugs -------------------------------------------------------------------------------


def buggy_forward(variant, params, x, s0, *, bug):
    if bug == "initial-state-ignored":
        s0 = np.zeros_like(s0)
    W = params["W"].T if bug == "weight-transposed-forward" else params["W"]
    return solve_forward(variant, {**params, "W": W}, x, s0)


def buggy_loss_per_step(variant, y, targets):
    """The loss averaged over the T steps instead of summed."""
    return solve_loss(variant, y, targets) / len(y)


def buggy_grads(variant, params, x, targets, s0, *, bug):
    """char_grads written out, with one misconception switched on by id."""
    U, W, b, V, c = (np.asarray(params[key], dtype=np.float64) for key in PARAMETERS)
    start = np.zeros_like(s0) if bug == "initial-state-ignored" else np.asarray(s0, float)
    phi = activations.hidden(variant.activation)
    s = ref.layer_forward(np.asarray(x)[None], start[None], U, W, b, phi)     # (1, T, d)
    y = activations.softmax(s @ V + c)
    if bug == "softmax-jacobian-elementwise":   # dL/dy = −d/y times y(1 − y), as for a sigmoid
        do = -targets / y * y * (1.0 - y)
    else:
        do = y - targets
    if bug == "output-delta-sign":
        do = -do
    if bug == "overwrite-not-accumulate":       # the backward loop ends at t = 0
        dV, dc = np.outer(s[0, 0], do[0, 0]), do[0, 0]
    else:
        dV, dc = np.einsum("ntd,ntk->dk", s, do), do.sum(axis=(0, 1))
    _, _, dU, dW, db = buggy_bptt(variant, do @ V.T, np.asarray(x)[None], start[None], s, U, W,
                                  bug=bug)
    return {"U": dU, "W": dW, "b": db, "V": dV, "c": dc}


def buggy_train(variant, params, words, lr, k_updates, *, bug):
    model = model_of(variant, params)
    step = {"update-wrong-sign": -1.0, "update-applied-twice": 2.0}[bug]
    params = {key: np.asarray(params[key], dtype=np.float64) for key in PARAMETERS}
    for i in range(k_updates):
        x, targets = solve_encode(variant, words[i % len(words)])
        grads = model.grad(params, x[None], targets[None])
        params = {key: params[key] - step * lr * grads[key] for key in PARAMETERS}
    return params


def buggy_adagrad(variant, params, grads, memory, lr, *, bug):
    """min-char-rnn's step with one mistake: the memory replaced by g² instead of summing
    it, the square root left out, or the step taken up the gradient."""
    new, memories = {}, {}
    for key in PARAMETERS:
        g = np.asarray(grads[key], dtype=np.float64)
        m = g * g if bug == "adagrad-memory-not-accumulated" else memory[f"m{key}"] + g * g
        scale = m + EPSILON if bug == "adagrad-square-root-missing" else np.sqrt(m + EPSILON)
        sign = -1.0 if bug == "update-wrong-sign" else 1.0
        new[key] = params[key] - sign * lr * g / scale
        memories[f"m{key}"] = m
    return {**new, **memories}


# -- the probes -------------------------------------------------------------------------


def _params(variant, rng):
    return random_model(model_variant(variant), rng)


def model_variant(variant: Variant) -> Variant:
    """The variant with the vocabulary's sizes, for the Elman exercise's helpers."""
    return Variant(activation=variant.activation, output="softmax", objective="ce", n_in=4,
                   n_hidden=variant.n_hidden, n_out=4, T=variant.T, N=1)


def probes_encode(instance: Instance) -> list[Probe]:
    rng = instance.probe_rng("encode")
    words = [str(rng.choice(WORDS)), random_word(rng), str(rng.choice(list("dep")))]
    purposes = ("a word of the list", "a string over {d, e, p}",
                "one character: its only target is <stop>")
    return [Probe(name=f"{word!r}", kwargs={"word": word},
                  purpose=purpose, time_axis={"x": 0, "targets": 0})
            for word, purpose in zip(words, purposes, strict=True)]


def probes_forward(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("char_forward")
    params = _params(v, rng)
    x, _ = solve_encode(v, str(rng.choice(WORDS)))
    time_axis = {"s": 0, "y": 0}
    return [
        Probe(name="zero initial state",
              kwargs={"params": params, "x": x, "s0": np.zeros(v.n_hidden)},
              purpose="the word read from s_0 = 0", time_axis=time_axis),
        Probe(name="non-zero initial state",
              kwargs={"params": params, "x": x, "s0": random_state(v, rng)},
              purpose="the first step must use the given s_0", time_axis=time_axis),
    ]


def probes_loss(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("char_loss")
    probes = []
    for word in (str(rng.choice(WORDS)), random_word(rng, 1, 6)):
        _, targets = solve_encode(v, word)
        y = activations.softmax(rng.normal(0.0, 1.5, targets.shape))
        probes.append(Probe(name=f"predictions for {word!r}", kwargs={"y": y, "targets": targets},
                            purpose="L = −Σ_t log y_{t,c_t}, summed over the steps"))
    return probes


def probes_grads(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("char_grads")
    params = _params(v, rng)
    probes = []
    for i, word in enumerate((str(rng.choice(WORDS)), random_word(rng, 4, 6))):
        x, targets = solve_encode(v, word)
        s0 = random_state(v, rng) if i == 0 else np.zeros(v.n_hidden)
        start = "non-zero" if i == 0 else "zero"
        probes.append(Probe(name=f"{word!r} from a {start} initial state",
                            kwargs={"params": params, "x": x, "targets": targets, "s0": s0},
                            purpose="BPTT through the whole word", repeat=(i == 0)))
    x, targets = solve_encode(v, str(rng.choice(list("dep"))))
    probes.append(Probe(name="one character from a non-zero initial state",
                        kwargs={"params": params, "x": x, "targets": targets,
                                "s0": random_state(v, rng)},
                        purpose="a single step: ∇_W L is s_0ᵀ δ_0 alone, "
                                "so the given s_0 must be used"))
    return probes


def probes_train(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("train")
    params = _params(v, rng)
    k = v.get("k_updates", 5)
    return [Probe(name=f"{k} updates",
                  kwargs={"params": params, "words": training_words(v, rng),
                          "lr": v.lr, "k_updates": k},
                  purpose="the weights after k SGD updates, one word per update", repeat=True)]


def probes_adagrad(instance: Instance) -> list[Probe]:
    v, rng = instance.variant, instance.probe_rng("adagrad_update")
    params = _params(v, rng)
    grads = {key: rng.normal(0.0, 1.0, value.shape) for key, value in params.items()}
    memory = {f"m{key}": rng.uniform(0.1, 0.9, value.shape) for key, value in params.items()}
    return [Probe(name="a memory of earlier steps", kwargs={"params": params, "grads": grads,
                                                          "memory": memory, "lr": v.lr},
                  purpose="m ← m + g², θ ← θ − α g / √(m + ε), with m already summed "
                          "over earlier updates"),
            Probe(name="the first update", kwargs={
                "params": params, "grads": {key: rng.normal(0.0, 0.1, value.shape)
                                            for key, value in params.items()},
                "memory": {key: np.zeros_like(value) for key, value in memory.items()},
                "lr": v.lr},
                  purpose="m = 0 before the first update: small gradients, a step of about α")]


# -- the exercise ------------------------------------------------------------------------


DERIVATIVE = derivative_through_state("s_t")
GRAD_BUGS = {
    "output-delta-sign": r"\frac{\partial L}{\partial o_t} = y_t - \mathbb{1}_{c_t}",
    "softmax-jacobian-elementwise":
        r"\frac{\partial L_t}{\partial o_t} = y_t - \mathbb{1}_{c_t}"
        r"\quad\text{from}\quad \frac{\partial y_j}{\partial o_i} = y_j(\delta_{ij} - y_i)",
    "recurrent-term-dropped":
        r"\frac{\partial L}{\partial s_t} = \frac{\partial L_t}{\partial o_t} V^\top "
        r"+ \delta_{t+1} W^\top",
    "weight-not-transposed":
        r"\frac{\partial L}{\partial s_{t-1}} \mathrel{+}= \delta_t W^\top",
    "initial-state-ignored": r"\nabla_W L = \sum_t s_{t-1}^\top \delta_t,\ s_{-1} = s_0",
    "overwrite-not-accumulate": r"\nabla_W L = \sum_t s_{t-1}^\top \delta_t",
    "derivative-at-preactivation": DERIVATIVE,
}
UPDATE = r"\theta \leftarrow \theta - \alpha \nabla_\theta L(\text{word}_i)"
ADAGRAD = (r"m \leftarrow m + g \odot g,\quad "
           r"\theta \leftarrow \theta - \alpha\, g / \sqrt{m + \varepsilon}")
PARAMS_DOC = ("params: dict with U (4, d), W (d, d), b (d,), V (d, 4), c (4,).")


def build() -> Exercise:
    """The `char-rnn` exercise."""

    stages = (
        Stage(name="encode",
              title="Characters to one-hot inputs and next-character targets", points=1,
              inputs=("word",), outputs=("x", "targets"),
              docstring="The vocabulary is d, e, p, <stop> (indices 0, 1, 2, 3). For a word of T\n"
                        "characters, x_t is the one-hot row of character t "
                        "and the target at t is the\n"
                        "one-hot row of character t + 1, <stop> after the last character.\n\n"
                        "word: a str over {d, e, p}. "
                        "Returns x: (T, 4) and targets: (T, 4), floats.",
              solve=solve_encode, probes=probes_encode),
        Stage(name="char_forward", title="The forward pass over one word", points=1,
              inputs=("params", "x", "s0"), outputs=("s", "y"),
              docstring="s_t = φ(x_t U + s_{t-1} W + b), "
                        "y_t = softmax(s_t V + c) for t = 0 … T−1.\n\n"
                        + PARAMS_DOC + "\n"
                        "x: (T, 4) one-hot characters, s0: (d,) the state before x_0.\n"
                        "Returns s: (T, d) and y: (T, 4), each row of y a distribution.",
              solve=solve_forward, probes=probes_forward,
              bugs=bugs_from(buggy_forward, {
                  "initial-state-ignored": r"s_0 = \varphi(x_0 U + s_{\text{init}} W + b)",
                  "weight-transposed-forward": r"s_t = \varphi(x_t U + s_{t-1} W + b)"})),
        Stage(name="char_loss", title="The loss of one word", points=1,
              inputs=("y", "targets"), outputs=("L",),
              docstring="L = Σ_t L_t with L_t = −log y_{t,c_t}, c_t the true next character\n"
                        "(= −Σ_t Σ_k targets_{t,k} log y_{t,k}). "
                        "A sum over the steps, not a mean.\n\n"
                        "y: (T, 4) predicted distributions, targets: (T, 4) one-hot. "
                        "Returns L: a float.",
              solve=solve_loss, probes=probes_loss,
              bugs=(Bug(misconception="mean-sum-mixed-up", implementation=buggy_loss_per_step,
                        correction=r"\mathscr{L} = \sum_{t=1}^{T} -\log y_{t c_t}"),)),
        Stage(name="char_grads", title="BPTT for one word", points=3,
              inputs=("params", "x", "targets", "s0"), outputs=PARAMETERS,
              docstring="The gradients of L = Σ_t −log y_{t,c_t} for one word, by BPTT:\n"
                        "∂L/∂o_t = y_t − targets_t, "
                        "δ_t = (∂L/∂o_t Vᵀ + δ_{t+1} Wᵀ) ⊙ φ'(a_t) and\n"
                        "∇_U L = Σ_t x_tᵀ δ_t, ∇_W L = Σ_t s_{t-1}ᵀ δ_t, ∇_b L = Σ_t δ_t,\n"
                        "∇_V L = Σ_t s_tᵀ ∂L/∂o_t, ∇_c L = Σ_t ∂L/∂o_t.\n\n"
                        + PARAMS_DOC + "\n"
                        "x: (T, 4), targets: (T, 4), s0: (d,).\n"
                        "Returns a dict of gradients with the keys and shapes of params.",
              solve=solve_grads, probes=probes_grads,
              bugs=bugs_from(buggy_grads, GRAD_BUGS,
                             applies={"derivative-at-preactivation": saturating}),
              depends_on=("char_forward",),
              gradient_of=GradientOf(forwards=("char_forward",), head="char_loss",
                                     wrt={name: f"params.{name}" for name in PARAMETERS},
                                     time_axis=None)),
        Stage(name="train", title="Training by SGD", points=2,
              inputs=("params", "words", "lr", "k_updates"), outputs=PARAMETERS,
              docstring="k_updates steps of gradient descent θ ← θ − α ∇_θ L(word), "
                        "update i on the word\n"
                        "words[i mod len(words)], each word read from s_0 = 0.\n\n"
                        + PARAMS_DOC + "\n"
                        "words: a list of str, lr: the rate α, k_updates: an int.\n"
                        "Returns a new dict of weights (do not change params in place).",
              solve=solve_train, probes=probes_train,
              bugs=bugs_from(buggy_train, {"update-wrong-sign": UPDATE,
                                           "update-applied-twice": UPDATE}),
              demo="notebook/autocomplete.py.j2",
              depends_on=("encode", "char_grads")),
        Stage(name="adagrad_update", title="min-char-rnn's Adagrad update", points=1,
              inputs=("params", "grads", "memory", "lr"), outputs=PARAMETERS + MEMORIES,
              docstring="The Adagrad step of min-char-rnn, for every weight θ with its "
                        "gradient g and memory m:\n"
                        "m ← m + g²,   θ ← θ − α g / √(m + ε),   ε = 1e-8.\n\n"
                        + PARAMS_DOC + "\n"
                        "grads: their gradients (same keys); memory: dict with mU, mW, mb, "
                        "mV, mc, each shaped\n"
                        "like its weight, the sum of the squared gradients so far; "
                        "lr: the rate α.\n"
                        "Returns one new dict with the updated weights U, W, b, V, c and "
                        "memories mU, mW,\n"
                        "mb, mV, mc (do not change params or memory in place).",
              solve=solve_adagrad, probes=probes_adagrad,
              bugs=bugs_from(buggy_adagrad, {
                  "adagrad-memory-not-accumulated": ADAGRAD,
                  "adagrad-square-root-missing": ADAGRAD,
                  "update-wrong-sign": ADAGRAD})),
    )
    return Exercise(
        id="char-rnn",
        title="Character autocompletion over {d, e, p, <stop>}",
        seed="004",
        summary=("An RNN reads a word one character at a time and predicts, at every step, "
                 "the distribution of the next character over the vocabulary d, e, p, <stop>. "
                 "You will encode words, run the network, compute the loss "
                 "L = Σ_t −log y_{t,c_t}, backpropagate it through time and train the network "
                 "with a few steps of gradient descent, then write min-char-rnn's Adagrad update."),
        notation={"x_t": "one-hot character at step t (4,)", "s_t": "state at step t (d,)",
                  "y_t": "predicted distribution of the next character (4,)",
                  "c_t": "index of the true next character",
                  "U": "input-to-state weights (4, d)", "W": "state-to-state weights (d, d)",
                  "V": "state-to-output weights (d, 4)", "b": "state bias (d,)",
                  "c": "output bias (4,)"},
        variant_space={
            "activation": ("tanh", "sigmoid"), "head": (("softmax", "ce"),),
            "n_in": (4,), "n_hidden": (3, 4, 5, 6), "n_out": (4,),
            "T": (4,), "N": (1,), "lr": (0.05, 0.1, 0.2),
            "k_updates": (3, 5, 8), "n_words": (2, 3, 4),
        },
        stages=stages,
        solution_module="exercises.solutions.char_rnn",
        equations=(r"s_t = \varphi(x_t U + s_{t-1} W + b)", r"y_t = \mathrm{softmax}(s_t V + c)",
                   r"\mathscr{L} = \sum_{t=1}^{T} \mathscr{L}_t,\quad "
                   r"\mathscr{L}_t = -\log y_{t c_t}"),
    )


EXERCISE = build()
