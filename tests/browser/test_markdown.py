"""The panel's streaming markdown in Chromium: growing text renders as the whole text does.

The built bundle is served from a made-up origin, so no Jupyter is needed.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.browser.conftest import ARGS, CHROMIUM

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "jupyter_resumechat" / "widget" / "static" / "panel.js"
ORIGIN = "http://markdown.invalid/"

FEED = """async ({text, step}) => {
  const mod = await import('ORIGINpanel.js');
  const live = document.createElement('div'); const whole = document.createElement('div');
  document.body.replaceChildren(live, whole);
  const md = new mod.LiveMarkdown(live);
  for (let i = step; i < text.length + step; i += step) md.update(text.slice(0, i));
  whole.innerHTML = mod.renderMarkdown(text);
  const pres = live.querySelectorAll('pre').length;
  const stable = live.querySelector('.rc-md-stable').childElementCount;
  live.querySelectorAll('.rc-copy, .rc-insert').forEach((b) => b.remove());  // the live view's code buttons
  return {live: live.innerText, whole: whole.innerText, pres, stable};
}""".replace("ORIGIN", ORIGIN)

SAMPLE = (
    "# Title\n\nA first paragraph with **bold** text.\n\n"
    "```python\ndef f():\n\n    return 1  # a blank line inside the fence\n```\n\n"
    "- one\n- two\n\n"
    "1. a step with code:\n\n   ```bash\n   make\n\n   make test\n   ```\n\n"
    "~~~\nliteral ``` inside\n\nstill code\n~~~\n\n"
    "A last paragraph that is still growing"
)


@pytest.fixture(scope="module")
def page(browser):
    page = browser.new_page()
    page.route(
        f"{ORIGIN}panel.js", lambda r: r.fulfill(body=BUNDLE.read_bytes(), content_type="text/javascript")
    )
    page.route(ORIGIN, lambda r: r.fulfill(body="<!doctype html><body></body>", content_type="text/html"))
    page.goto(ORIGIN)
    yield page
    page.close()


@pytest.mark.parametrize("step", [1, 3, 17])
def test_growing_text_renders_as_the_whole_text(page, step):
    shown = page.evaluate(FEED, {"text": SAMPLE, "step": step})
    assert shown["live"].split() == shown["whole"].split()
    assert shown["pres"] == 3, "a blank line inside a code fence split the block"
    assert shown["stable"] > 0, "finished blocks are kept, not rendered again"


def test_the_rendering_benchmark_runs(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "bench.panel_render", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        check=True,
        timeout=300,
        capture_output=True,
    )
    report = (tmp_path / "panel-render.md").read_text()
    assert "LiveMarkdown" in report and "µs per token" in report
    assert CHROMIUM and ARGS  # the benchmark launches the same browser the tests do
