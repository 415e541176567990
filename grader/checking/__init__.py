"""Trusted verdicts: from the values a student's functions returned to graded checks.

Pure functions, no I/O, no student code: everything here runs in the trusted
parent on plain data (numpy arrays of exact type, numbers, None). The grading
rules live here and in docs/students.md:

    verdicts.py      plan_calls, grade_outcomes, Outcome, ForeignValue: the
                     probes to call, then a stage's credit from the outcomes
                     (mean over probes, time-step credit, in-place and repeat
                     penalties, misconceptions named, the first update a
                     training run departs at, its loss_curve)
    checks.py        answer_array and the comparisons: tolerance
                     atol + rtol·|expected| in float64, messages naming the
                     shape and likely cause, first_wrong_time
    equations.py     as_text: a misconception's corrected equation, LaTeX to
                     plain text
    consistency.py   the graded gradient check: a backward stage against directional
                     finite differences of the student's own forward
    gradcheck.py     finite differences in float64: numerical_gradient,
                     relative_error, directional and vector–Jacobian checks
    batched_loss.py  ElmanLoss: the loss of a stack of parameter sets at once,
                     the batched f of a gradient check

Imports: `reference`, `exercises`, `grader.reports`; never the sandbox, the
grading runners or anything that executes a student's code.
"""
