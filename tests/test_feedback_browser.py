"""The feedback page and the class report as a browser shows them: headless Chromium.

Debian's `chromium` and `chromium-driver` (`.ci/run` installs them), driven by
selenium through chromedriver, started with --headless --no-sandbox
--disable-gpu and a fresh --user-data-dir. Selenium rather than chromium's own
--screenshot/--dump-dom: it waits for the page to load, reads the console
through the driver's log (not by scraping chromium's stderr, whose format
changes between versions), and gives each element's place on the page, so the
screenshot is checked exactly where the plot and the score table are.

Each page must load with no console message at all, and a screenshot must have
drawn (non-white) pixels inside the plot and inside the score table.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_feedback_pages import graded

from exercises.instance import DEMO_SECRET, make_instance
from exercises.registry import get_exercise
from grader.reports.class_page import write_report
from grader.reports.feedback import render_feedback_html
from grader.reports.results import CheckResult, SubmissionResult

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason="Debian's chromium and chromium-driver are not installed here "
           "(.ci/run installs them: apt-get install -y chromium chromium-driver)")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless", "--no-sandbox", "--disable-gpu",
                     f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
                     "--window-size=1200,900", "--hide-scrollbars"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    yield driver
    driver.quit()


def shown(browser, page: Path):
    """Load the page at full height; its console messages and a screenshot (PIL image)."""
    from PIL import Image

    browser.get_log("browser")                         # drop what an earlier page said
    browser.set_window_size(1200, 900)
    browser.get(page.as_uri())
    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1200, min(int(height) + 200, 12000))
    screenshot = Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("L")
    return browser.get_log("browser"), screenshot


def drawn_fraction(browser, screenshot, selector: str) -> float:
    """The fraction of pixels inside the element that are not white (or nearly)."""
    from selenium.webdriver.common.by import By

    element = browser.find_element(By.CSS_SELECTOR, selector)
    rect = element.rect
    assert rect["width"] > 50 and rect["height"] > 30, (selector, rect)
    scale = screenshot.width / browser.execute_script("return window.innerWidth")
    box = [round(v * scale) for v in (rect["x"], rect["y"], rect["x"] + rect["width"],
                                      rect["y"] + rect["height"])]
    pixels = np.asarray(screenshot.crop(box))
    return float((pixels < 235).mean())


def pages(tmp_path: Path) -> dict[str, tuple[Path, list[str]]]:
    """Every page type: file and the selectors of what must be drawn on it."""
    elman = get_exercise("elman")
    variant = make_instance(elman, "browser-ann", DEMO_SECRET).variant
    backward = elman.stage("rnn_backward")
    bug = next(b for b in backward.bugs_for(variant)
               if b.misconception == "recurrent-term-dropped")
    wrong = graded(elman, "browser-ann", backward, bug)
    vanishing = graded(get_exercise("vanishing"), "browser-bo")
    training = SubmissionResult("browser-cy", "elman", (CheckResult(
        "Training (train)", 2, 0.5, "failed", message="step 3 departs from the reference",
        details={"loss_curve": {"student": [2.0, 1.6, 1.5, 1.7, 1.9],
                                "reference": [2.0, 1.6, 1.3, 1.1, 1.0]}}),))
    files = {}
    for name, result, figure in (("wrong", wrong, "figure.error_map svg"),
                                 ("vanishing", vanishing, "figure.step_series svg"),
                                 ("training", training, "figure.loss_curve svg")):
        path = tmp_path / f"{name}.html"
        path.write_text(render_feedback_html(result), encoding="utf-8")
        files[name] = (path, ["table#scores", figure])
    report = write_report([wrong, vanishing, graded(elman, "browser-di")], tmp_path / "report")
    files["report"] = (report["html"], ["table.stages", "figure.histogram svg"])
    return files


def test_every_page_renders_with_no_console_message_and_draws_its_plot_and_table(browser,
                                                                                   tmp_path):
    for name, (path, selectors) in pages(tmp_path).items():
        messages, screenshot = shown(browser, path)
        assert messages == [], (name, messages)
        for selector in selectors:
            assert drawn_fraction(browser, screenshot, selector) > 0.01, (name, selector)


def test_the_checks_would_catch_a_console_error_and_a_blank_plot(browser, tmp_path):
    """The two measures above can fail: a page that logs an error, and a plot left blank."""
    blank = tmp_path / "blank.html"
    blank.write_text('<!DOCTYPE html><html><head><title>b</title></head><body>'
                     '<figure class="error_map"><svg width="400" height="200"></svg></figure>'
                     "</body></html>")
    messages, screenshot = shown(browser, blank)
    assert drawn_fraction(browser, screenshot, "figure.error_map svg") == 0.0
    browser.execute_script("console.error('something broke')")
    assert any("something broke" in m["message"] for m in browser.get_log("browser"))
