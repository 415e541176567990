"""Submissions into grades, on every route.

    submission.py          load: which code is the student's, who and what it
                           claims to be (no nbformat, no student code run)
    batch.py               discover, grade_target, grade_batch: files, folders
                           and nbgrader trees graded in sandbox workers, one
                           per core, every grade kept
    gradebook.py           Gradebook: the SQLite record that makes a killed
                           run resume and skips unchanged submissions
    nbgrader_gradebook.py  write_auto_scores: our points into nbgrader's
                           gradebook.db
    in_process.py          run_in_process: a student's functions called in this
                           process, for code already running where the
                           student's runs (nbgrader's kernel)
    hidden_tests.py        grade_stage: the nbgrader hidden-test cell's entry
                           point, inside the student's kernel
    distributed.py         DaskExecutor: grade_batch's jobs on a dask cluster
                           (optional: needs dask.distributed)
    ci_routes.py           github_step, gradescope_run: the grader's side of a
                           GitHub Actions step and a Gradescope submission
    collect.py             collect: students' repositories into one batch

Imports: everything below it (reports, checking, sandbox, authoring); never cli.
"""
