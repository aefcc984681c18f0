#!/usr/bin/env python3
"""Opens the weekly digest's HTML in a real browser (Debian's Chromium, driven by Playwright)
and checks what a mail client would meet: the page renders (its tables, every domain's
heading and total), runs nothing (no script element, no event-handler attribute) and loads
nothing but itself. A control page with one remote image must show that one load, or the
check could not tell. Writes a full-page screenshot.

usage: python3 scripts/check_digest_html.py DIGEST.html SCREENSHOT.png DOMAIN=TOTAL...
exits non-zero naming what failed.
"""
import os
import sys
import tempfile

from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
# As the machine's notes say: without the background-networking flags Chromium's own
# connections (updates, time) would be refused by the closed network, many at a time.
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def loads(browser, path):
    """Every URL the page at `path` asked for, the page itself included, and the page."""
    page = browser.new_page(viewport={"width": 1000, "height": 800})
    requested = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto("file://" + os.path.abspath(path))
    page.wait_for_load_state("networkidle")
    return requested, page


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    html, screenshot, expected = sys.argv[1], sys.argv[2], sys.argv[3:]
    failures = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        # The control: a page that loads a remote image must be seen loading it.
        with tempfile.NamedTemporaryFile("w", suffix=".html", delete=False) as control:
            control.write('<!DOCTYPE html><html><body><img src="http://192.0.2.1/pixel.png"></body></html>')
        control_loads, _ = loads(browser, control.name)
        os.unlink(control.name)
        if "http://192.0.2.1/pixel.png" not in control_loads:
            failures.append(f"the control page's remote image was not seen: {control_loads}")

        requested, page = loads(browser, html)
        own = "file://" + os.path.abspath(html)
        others = [url for url in requested if url != own]
        if others:
            failures.append(f"the digest loaded {others}")
        counts = page.evaluate("""() => ({
            tables: document.querySelectorAll('table').length,
            scripts: document.querySelectorAll('script, iframe, object, embed, img').length,
            handlers: [...document.querySelectorAll('*')].filter(
                e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
            headings: [...document.querySelectorAll('h2')].map(h => h.textContent + ' ' +
                (h.nextElementSibling ? h.nextElementSibling.textContent : '')),
            width: document.documentElement.scrollWidth,
        })""")
        if counts["tables"] == 0:
            failures.append("no table rendered")
        if counts["scripts"] or counts["handlers"]:
            failures.append(f"active content: {counts['scripts']} element(s), {counts['handlers']} handler(s)")
        for pair in expected:
            domain, total = pair.split("=", 1)
            if not any(h.startswith(f"{domain} {total} message(s)") for h in counts["headings"]):
                failures.append(f"{domain} with {total} message(s) is not shown: {counts['headings']}")
        page.screenshot(path=screenshot, full_page=True)
        browser.close()
    for failure in failures:
        print(f"FAIL: {failure}", file=sys.stderr)
    if failures:
        sys.exit(1)
    print(f"{html}: renders in Chromium, {counts['tables']} table(s), loads nothing else; {screenshot} written")


if __name__ == "__main__":
    main()
