"""Screenshots of a run's report.html for docs/ (the README and docs/guide/report-page.md show them).

    python scripts/report_screenshots.py RUN_DIR [OUT_DIR=docs]

Opens the page in Debian's chromium through Playwright (as tests/reports/test_html_report.py does), with
the network refused, and writes report-overview.png (header, figures), report-hover.png (the
heatmap with a hover label) and report-classification.png (the ops table searched for an op).
"""
from __future__ import annotations

import sys
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
         "--disable-component-update", "--disable-sync"]


def main(run_dir: str, out_dir: str = "docs") -> None:
    from playwright.sync_api import sync_playwright

    page_path = Path(run_dir).resolve() / "report.html"
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1050})
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith(("file:", "data:", "blob:"))
                   else r.abort())
        page.goto(page_path.as_uri())
        page.wait_for_function("document.querySelectorAll('.dt-container').length === "
                               "document.querySelectorAll('div.table').length", timeout=60_000)
        page.set_viewport_size({"width": 1400, "height": 1500})
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(out / "report-overview.png"))
        page.set_viewport_size({"width": 1400, "height": 1050})

        heat = page.locator("section#axis-category div.figure").first   # the heatmap (after the end-to-end bars)
        heat.evaluate("e => e.scrollIntoView({block: 'center'})")
        box = heat.locator(".nsewdrag").first.bounding_box()
        assert box is not None, "the heatmap is not visible"
        page.mouse.move(box["x"] + box["width"] * 0.95, box["y"] + box["height"] * 0.3)
        page.locator(".hoverlayer .hovertext").first.wait_for(timeout=5000)
        page.screenshot(path=str(out / "report-hover.png"))

        ops = page.locator("div.dt-container",
                           has=page.locator("caption:text-is('Ops, their category and the rule that decided it')"))
        name_filter = ops.locator("tfoot input[placeholder='name']")
        name_filter.fill("aten::addm")
        name_filter.press("m")   # the column filters listen to key presses
        page.locator("#classification").evaluate("e => e.scrollIntoView()")
        page.screenshot(path=str(out / "report-classification.png"))
        browser.close()
    for name in ("report-overview.png", "report-hover.png", "report-classification.png"):
        print(out / name)


if __name__ == "__main__":
    main(*sys.argv[1:3])
