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
