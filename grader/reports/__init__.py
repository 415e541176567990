"""The one result model and every rendering of it.

    results.py       CheckResult, SubmissionResult, error_result; Gradescope's
                     results.json is the canonical serialisation
    render.py        render_text, render_json, render_junit, points_line,
                     github_classroom_output, github_classroom_notices: what a
                     student may see depends on `audience` and visibility
    class_report.py  class_csv, summary_text, misconception_counts,
                     write_class_reports: a class's files, rendered from the
                     same results
    numbers.py       points_text, score_text, percent_text: the one rounding
                     every rendering shows
    feedback.py      render_feedback_html, render_feedback_markdown,
                     write_feedback: a submission's feedback page
    drawings.py      draw_check, page_drawings, class_drawings: a page's pictures
                     and equations, drawn apart from it (in another process, on
                     another core); forked_map: a class's work on every core
    plots.py         error_map_svg, step_series_svg, loss_curve_svg, score
                     histograms: matplotlib pictures as inline SVG
    maths.py         equation_svg: LaTeX drawn offline by mathtext
    class_page.py    class_view, render_report_html, report_csv, write_report,
                     results_in: the class report

Imports: numpy, jinja2, the standard library, exercises.misconceptions (titles) and,
lazily, matplotlib; nothing else of `grader`.
Nothing here grades.
"""
