"""Per-student instances: a pure function of (exercise, student id, course secret).

The *variant* (activation, output and loss, sizes, sequence length, bias…) is
chosen from a public salt and the student id, so a shared release notebook can
recompute it at run time from the student's id with `hashlib` alone. The
*data* of the hidden probes is drawn from a key derived with HMAC from the
course secret, so nobody without the secret can compute it.

    choice of field f = options[f][ SHA-256(salt ‖ exercise ‖ student ‖ f) mod |options[f]| ]
    data key          = HMAC-SHA-256(secret, exercise ‖ student)
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import replace

import numpy as np

from exercises.spec import Exercise, Instance, Variant

PUBLIC_SALT = "bptt-autograder/variants/v1"
DEMO_SECRET = "bptt-autograder demo secret: set course.secret for a real course"
SEPARATOR = "\x1f"


def _digest_int(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256(SEPARATOR.join(parts).encode()).digest()[:8], "big")


def choose_variant(space: Mapping[str, tuple], exercise_id: str, student: str,
                   salt: str = PUBLIC_SALT) -> Variant:
    """The student's variant: one option per field of `space`, chosen by hash."""
    chosen = {}
    for name, options in space.items():
        if not options:
            raise ValueError(f"variant field {name!r} of {exercise_id!r} has no options")
        chosen[name] = options[_digest_int(salt, exercise_id, student, name) % len(options)]
    if "head" in chosen:
        chosen["output"], chosen["objective"] = chosen.pop("head")
    known = set(Variant.__dataclass_fields__) - {"extra"}
    extra = tuple(sorted((k, v) for k, v in chosen.items() if k not in known))
    return Variant(**{k: v for k, v in chosen.items() if k in known}, extra=extra)


RESIZABLE = ("N", "T", "n_in", "n_hidden", "n_hidden2", "n_out", "horizon", "lr", "k_updates",
             "n_words")


def resized(variant: Variant, space: Mapping[str, tuple]) -> Variant | None:
    """The variant with every size, length, rate and horizon that `space` lets vary moved
    outside its options, or None when nothing varies.

    A probe drawn for it fails code that reads its variant (VARIANT["lr"], a typed-in T)
    instead of its arguments. Integer fields move past their largest option, to values
    that differ from each other, so that no shape is square by accident; a rate moves
    between options. A field with one option is part of the exercise's structure (the
    alphabet of char-rnn, the scalars of scalar-linear) and stays.
    """
    values = variant.as_dict()
    varying = [name for name in RESIZABLE if len(space.get(name, ())) > 1 and name in values]
    taken: set[int] = set()
    moved = {}
    for name in sorted(varying, key=lambda name: max(space[name])):   # small sizes stay small
        options = space[name]
        if all(isinstance(o, int) and not isinstance(o, bool) for o in options):
            value = max(options) + 1
            while value in taken:
                value += 1
            taken.add(value)
        else:
            value = round(max(options) * 1.37, 6)
        moved[name] = value
    if not moved:
        return None
    known = set(Variant.__dataclass_fields__) - {"extra"}
    extra = tuple((key, moved.get(key, value)) for key, value in variant.extra)
    return replace(variant, **{k: v for k, v in moved.items() if k in known}, extra=extra)


def data_key(exercise_id: str, student: str, secret: str) -> bytes:
    """HMAC-SHA-256 of (exercise, student) under the course secret."""
    message = SEPARATOR.join((exercise_id, student)).encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def keyed_generator(key: bytes, purpose: str) -> np.random.Generator:
    """A numpy generator determined by the key and the purpose ("probe:rnn_backward", …)."""
    seed = hmac.new(key, purpose.encode(), hashlib.sha256).digest()
    return np.random.default_rng(np.frombuffer(seed, dtype=np.uint32).tolist())


def make_instance(exercise: Exercise, student: str, secret: str,
                  salt: str = PUBLIC_SALT) -> Instance:
    """The student's instance of the exercise."""
    if not isinstance(student, str) or not student.strip():
        raise ValueError(f"student id must be a non-empty string, not {student!r}")
    return Instance(
        exercise=exercise,
        student=student,
        variant=choose_variant(exercise.variant_space, exercise.id, student, salt),
        data_key=data_key(exercise.id, student, secret),
    )
