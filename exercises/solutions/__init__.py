"""Model solutions as a student would write them, in the student's notation.

These modules are the notebooks' solution cells: plain numpy, no import of the
reference. A function named after a stage is that stage's solution; any other
function is *given* to the student in the notebook's locked given cell. A
function named `name__token` is the version of `name` for the variants with
that token: an activation such as `tanh`, or an output head such as
`softmax_ce`. `grader.authoring.solution_cells` reads them as notebook code.
"""
