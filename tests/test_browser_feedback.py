"""A feedback page opened from disk in a real browser with the network closed: its formulas are drawn.

The page is written with the course's feedback configuration (tests/test_feedback.py's feedback_page); chromium
opens it with every request that is not for a local file refused, as on a student's laptop offline.
"""

from __future__ import annotations

import nbformat

from test_browser import browser, expect, playwright  # noqa: F401 (fixtures)
from test_feedback import QUIZ, feedback_page


def test_a_feedback_page_shows_its_maths_with_the_network_closed(browser, tmp_path):  # noqa: F811
    path = tmp_path / "quiz.html"
    path.write_text(feedback_page(nbformat.v4.new_notebook(cells=QUIZ), 2.0, 5.0, pending_points=3.0),
                    encoding="utf-8")
    context = browser.new_context(offline=True)
    refused = []

    def refuse(route) -> None:
        refused.append(route.request.url)
        route.abort()

    context.route(lambda url: not url.startswith(("file:", "data:")), refuse)
    try:
        page = context.new_page()
        page.goto(path.as_uri())
        formulas = page.locator("span.math")
        expect(formulas).to_have_count(3)
        for index in range(3):
            formula = formulas.nth(index)
            expect(formula).to_be_visible()
            # The glyphs are drawn: the SVG's geometry (its <use> of each glyph resolved) has a size on screen.
            width, height = formula.locator("svg").evaluate(
                "svg => { const box = svg.getBBox(); return [box.width, box.height]; }")
            assert width > 5 and height > 3, f"formula {index} is not drawn: {width} x {height}"
        display = page.locator("span.math-display")
        expect(display).to_have_attribute("style", "display: block; text-align: center; margin: 0.8em 0")
        assert display.locator("svg").get_attribute("aria-label").startswith("\\frac{\\partial L}")
        box = display.bounding_box()
        assert box and box["height"] > 20  # a fraction, on a line of its own
        assert page.locator("code.math-tex").count() == 0
        expect(page.locator("text=Score: pending, out of 3.0").first).to_be_visible()
        assert refused == [], f"the page asked the network for {refused}"
    finally:
        context.close()
