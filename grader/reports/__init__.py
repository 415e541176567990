"""The one result model and every rendering of it.

    results.py       CheckResult, SubmissionResult, error_result; Gradescope's
                     results.json is the canonical serialisation
    render.py        render_text, render_json, render_junit, points_line,
                     github_classroom_output, github_classroom_notices: what a
                     student may see depends on `audience` and visibility
    class_report.py  class_csv, summary_text, misconception_counts,
                     write_class_reports: a class's files, rendered from the
                     same results

Imports: numpy and the standard library only; nothing else of `grader`.
Nothing here grades.
"""
