"""Everything that turns exercises into notebooks and submissions into grades.

One package per stage of the pipeline, imported in one direction only (the
arrow reads "is imported by"; `tests/test_architecture.py` enforces it):

    reports ← checking ← sandbox ← authoring ← grading ← cli

    authoring   exercises → release, source, solved and shared notebooks
    grading     submission → sandbox job → outcomes → checking → reports
    checking    pure, trusted verdicts: no I/O, never imports student-side code
    sandbox     the only place untrusted code runs, and its wire protocol
    reports     the one result model and its renderings
    cli         the `bptt` commands, each a thin call into the packages above

Every package may import `reference` and `exercises`; neither of those imports
`grader`. See docs/architecture.md for the picture and the contracts.
"""
