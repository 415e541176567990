"""Exercises into notebooks, and a course into an nbgrader course folder.

    notebooks.py        notebook(exercise, kind, student, salt): the student
                        release, the solved notebook and nbgrader's instructor
                        source, per student or shared (the variant worked out
                        from STUDENT_ID); given_cell, notebook_cells,
                        write_notebook
    solution_cells.py   an exercise's solution module read as notebook code:
                        stage_solutions, solution_namespace, given_names
    self_checks.py      the self-check plans a notebook runs with numpy alone
    demos.py            demo_cell: the cell after a stage (Stage.demo): a training
                        run's loss plot on a public example, char-rnn's
                        autocompletion
    templating.py       render: the jinja2 environment over templates/
    course.py           CourseConfig: the course file (secret, salt, limits)
    roster.py           read_roster, check_student_id
    nbgrader_course.py  init_course: an nbgrader course with every exercise
    ci_files.py         github_template, gradescope_bundle: what CI is given

Imports: `reference`, `exercises`, `grader.sandbox.limits` (the course file
holds the sandbox's limits); never grading or cli.
"""
