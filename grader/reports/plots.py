"""The feedback page's pictures, drawn with matplotlib as inline SVG.

Each function takes a check's plain-JSON details and returns an <svg> element
(text), or None when there is nothing to draw:

- `error_map_svg`: details["error_map"] (`grader.checking.error_map`), the
  relative error of the student's answer against the reference per output
  (rows) and per time step (columns); an output without a time axis (a
  parameter gradient, summed over time) fills the last column, "all t". A
  bug that starts at one step and spreads back through the recurrence shows
  as a band that begins at that step. Below it, for a backward stage, its
  "by_loss_step" map: per parameter gradient (dU, dW, db, …, rows) the error
  of the gradient of the loss at step t alone (columns), so that a backward
  wrong from the loss at step k on shows as a band of columns from k. It is
  drawn only when some cell is not zero.
- `step_series_svg`: details["step_series"], an output that is one number per
  step (‖∂s_{T−1}/∂s_k‖ against k in the vanishing-gradient exercise), the
  student's curve over the reference's, on a log scale where every value is
  positive.
- `loss_curve_svg`: details["loss_curve"] = {"student": [...], "reference":
  [...]}, one loss per training step.

matplotlib is imported lazily, and no pyplot state is used: each picture is
its own `Figure`, drawn as vectors (pcolormesh, not an embedded bitmap). Glyphs
are paths, so no font travels with the page, and every picture's ids carry a
prefix of their own, so that no two SVG elements of one page share an id.
"""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

from grader.reports.maths import svg_element

STUDENT, REFERENCE, WRONG_STEP = "#c0392b", "#1f4e79", "#555555"
FLOOR = 1e-12            # relative errors shown from here to 1 on a log scale


def number(value: Any) -> float:
    """A details value as a float: "NaN"/"Infinity" strings back to floats, anything
    else that is not a number as NaN."""
    if isinstance(value, bool):
        return math.nan
    if isinstance(value, int | float):
        return float(value)
    return {"Infinity": math.inf, "-Infinity": -math.inf}.get(value, math.nan)


def _figure(width: float, height: float, left: float = 0.8, right: float = 0.2,
            bottom: float = 0.55, top: float = 0.35):
    """A figure of width × height inches with fixed margins (in inches): a layout engine
    would draw every picture twice, and pictures are most of a page's cost."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    figure.subplots_adjust(left=left / width, right=1 - right / width,
                           bottom=bottom / height, top=1 - top / height)
    return figure


def load_matplotlib() -> None:
    """Import what drawing a picture needs (a quarter of a second), ahead of the first one."""
    import matplotlib.backends.backend_svg  # noqa: F401
    import matplotlib.figure  # noqa: F401


def _svg(figure) -> str:
    from matplotlib import rc_context

    buffer = io.StringIO()
    with rc_context({"svg.fonttype": "path", "svg.hashsalt": "bptt"}):
        figure.savefig(buffer, format="svg")
    document = buffer.getvalue()
    return svg_element(document, "fig" + hashlib.sha256(document.encode()).hexdigest()[:10])


def _grid(rows: Sequence[Mapping[str, Any]], steps: int) -> tuple[Any, Any, list[str]]:
    """(errors, missing, labels) of a heat map's rows: one column per step, and a last
    "all t" column when some row has one number for every step ("overall")."""
    import numpy as np

    timeless = any("overall" in row for row in rows)
    grid = np.full((len(rows), steps + timeless), np.nan)
    missing = np.zeros(grid.shape, dtype=bool)     # cells a row does not have
    for i, row in enumerate(rows):
        if "per_step" in row:
            values = [number(v) for v in row["per_step"]][:steps]
            grid[i, :len(values)] = values
            missing[i, :steps] = np.isnan(grid[i, :steps])   # no usable answer at that step
            missing[i, steps:] = True
        else:
            grid[i, -1] = number(row.get("overall"))
            missing[i, :steps] = True
    labels = [str(t) for t in range(steps)] + (["all t"] if timeless else [])
    return grid, missing, labels


def _heat_map(axes, found: Mapping[str, Any], name: str, xlabel: str, title: str, cmap, norm):
    """One panel: found["rows"] (each named by row[name]) against the steps."""
    import numpy as np

    rows = found["rows"]
    grid, missing, labels = _grid(rows, int(found["steps"]))
    right = grid == 0.0
    shown = np.where(np.isnan(grid), 1.0, np.clip(grid, FLOOR, 1.0))
    masked = np.ma.masked_where(right | missing, shown)
    columns = grid.shape[1]
    image = axes.pcolormesh(np.arange(columns + 1) - 0.5, np.arange(len(rows) + 1) - 0.5,
                            masked, cmap=cmap, norm=norm)
    axes.invert_yaxis()
    for i, j in zip(*np.nonzero(missing), strict=True):
        axes.add_patch(_blank(j, i))
    axes.set_yticks(range(len(rows)), [str(row.get(name, "")) for row in rows])
    every = max(1, columns // 20)
    axes.set_xticks(range(0, columns, every), labels[::every])
    axes.set_xlabel(xlabel, fontsize=8)
    axes.set_title(title, fontsize=8, loc="left")
    return image


def error_map_svg(details: Mapping[str, Any]) -> str | None:
    """The heat maps of details["error_map"]: the outputs against the time step t, and
    the parameters against the step t of the loss ("by_loss_step"), or None when there
    is nothing wrong to show."""
    from matplotlib import colormaps
    from matplotlib.colors import LogNorm

    found = details.get("error_map")
    if not isinstance(found, Mapping):
        return None
    panels = []
    if found.get("rows"):
        panels.append((found, "output", "time step t", f"probe: {found.get('probe', '')}"))
    by_loss = found.get("by_loss_step")
    if isinstance(by_loss, Mapping) and by_loss.get("rows") and any(
            number(v) != 0.0 for row in by_loss["rows"] for v in row.get("per_step", [])):
        panels.append((by_loss, "parameter", "loss at step t",
                       "each gradient for the loss at one step t alone"))
    if not panels:
        return None
    columns = max(int(panel["steps"]) + 1 for panel, *_ in panels)
    heights = [0.38 * len(panel["rows"]) for panel, *_ in panels]
    gap = 0.85                                # inches between panels: labels and a title
    figure = _figure(min(max(4.8, 2.2 + 0.32 * columns), 9.0),
                     0.9 + sum(heights) + gap * (len(panels) - 1), right=1.3)
    cmap = colormaps["magma_r"].with_extremes(bad="#e8f5e9")    # masked: right
    norm = LogNorm(FLOOR, 1.0)
    grid = figure.add_gridspec(len(panels), 1, height_ratios=heights,
                               hspace=gap / (sum(heights) / len(panels)))
    image, boxes = None, []
    for k, (panel, name, xlabel, title) in enumerate(panels):
        axes = figure.add_subplot(grid[k], gid=f"{name}-map")      # "parameter-map": by loss step
        image = _heat_map(axes, panel, name, xlabel, title, cmap, norm)
        boxes.append(axes.get_position())
    top, bottom = boxes[0], boxes[-1]
    bar = figure.colorbar(image, cax=figure.add_axes((top.x1 + 0.03, bottom.y0, 0.025,
                                                     top.y1 - bottom.y0)))
    bar.solids.set_rasterized(False)          # vectors: no bitmap inside the page
    ticks = [FLOOR, 1e-9, 1e-6, 1e-3, 1.0]    # plain labels: mathtext's "10^{-k}" is slow
    bar.set_ticks(ticks, labels=[f"{t:.0e}".replace("e-0", "e-").replace("e+00", "")
                                 for t in ticks], fontsize=7)
    bar.minorticks_off()
    bar.set_label("relative error (pale: right)", fontsize=8)
    return _svg(figure)


def _blank(column: int, row: int):
    from matplotlib.patches import Rectangle

    return Rectangle((column - 0.5, row - 0.5), 1, 1, facecolor="#d9d9d9", edgecolor="white",
                     hatch="//")


def _curves(axes, student: Sequence, reference: Sequence, label: str) -> bool:
    """Draw each reference row and the student's over it; True when a log scale fits."""
    positive = True
    for k, (ours, theirs) in enumerate(zip(reference, student, strict=False)):
        ours = [number(v) for v in ours]
        theirs = [number(v) for v in theirs]
        suffix = f" (sequence {k + 1})" if len(reference) > 1 else ""
        axes.plot(range(len(ours)), ours, color=REFERENCE, linewidth=2.2, alpha=0.85 - 0.2 * k,
                  label=f"reference{suffix}" if k == 0 or suffix else None)
        axes.plot(range(len(theirs)), theirs, color=STUDENT, linewidth=1.2, linestyle="--",
                  marker="o", markersize=3, alpha=0.95 - 0.2 * k,
                  label=f"yours{suffix}" if k == 0 or suffix else None)
        positive &= all(v > 0 and math.isfinite(v) for v in ours + theirs)
    axes.set_ylabel(label)
    axes.legend(fontsize=7, loc="best")
    return positive


def step_series_svg(details: Mapping[str, Any]) -> str | None:
    """The student's per-step curve over the reference's, or None."""
    found = details.get("step_series")
    if not isinstance(found, Mapping) or not found.get("reference"):
        return None
    figure = _figure(6.0, 2.8)
    axes = figure.add_subplot()
    if _curves(axes, found.get("student") or [], found["reference"], str(found["output"])):
        axes.set_yscale("log")
    axes.set_xlabel("time step")
    axes.set_title(f"{found['output']} against time ({found.get('probe', '')})", fontsize=9)
    return _svg(figure)


def loss_curve_svg(details: Mapping[str, Any]) -> str | None:
    """The training loss per step, the student's over the reference's, or None."""
    found = details.get("loss_curve")
    if not isinstance(found, Mapping) or not found.get("reference"):
        return None
    figure = _figure(6.0, 2.8)
    axes = figure.add_subplot()
    student = found.get("student") or []
    _curves(axes, [student], [found["reference"]], "loss")
    axes.set_xlabel("training step")
    axes.set_title("training loss", fontsize=9)
    return _svg(figure)


PICTURES = (("error_map", error_map_svg), ("step_series", step_series_svg),
            ("loss_curve", loss_curve_svg))


def pictures(details: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(kind, svg) for every picture a check's details can draw, in a fixed order."""
    drawn = []
    for kind, draw in PICTURES:
        if kind in details:
            svg = draw(details)
            if svg is not None:
                drawn.append((kind, svg))
    return drawn


def score_histogram_svg(scores: Sequence[float], max_score: float) -> str | None:
    """A histogram of a class's scores out of max_score, or None for no scores."""
    if not scores:
        return None
    import numpy as np

    top = max(max_score, max(scores), 1e-9)
    bins = np.linspace(0.0, top, min(11, max(2, len(scores) + 1)))
    figure = _figure(6.0, 2.6)
    axes = figure.add_subplot()
    axes.hist(scores, bins=bins, color=REFERENCE, edgecolor="white")
    axes.set_xlabel(f"score (out of {top:g})")
    axes.set_ylabel("submissions")
    axes.yaxis.get_major_locator().set_params(integer=True)
    return _svg(figure)


def pass_rate_svg(rates: Sequence[tuple[str, float]]) -> str | None:
    """Horizontal bars: the fraction of submissions passing each stage, in stage order."""
    if not rates:
        return None
    figure = _figure(6.0, 0.8 + 0.3 * len(rates),
                     left=0.2 + 0.055 * max(len(name) for name, _ in rates))
    axes = figure.add_subplot()
    names = [name for name, _ in rates]
    axes.barh(range(len(rates)), [100 * rate for _, rate in rates], color="#2e7d32")
    axes.set_yticks(range(len(rates)), names, fontsize=7)
    axes.invert_yaxis()
    axes.set_xlim(0, 100)
    axes.set_xlabel("submissions passing (%)")
    return _svg(figure)
