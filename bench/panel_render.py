"""Rendering a long streaming reply in the panel: linear, not quadratic.

``python -m bench.panel_render [--quick]`` loads the built panel bundle into
Debian's Chromium and feeds a reply to it one token at a time, as the SSE
deltas arrive: the panel's ``LiveMarkdown`` (finished blocks rendered once,
only the last block again) against rendering the whole text on every token
(what the panel did before).  Writes ``bench/results/panel-render.md``.

Linear means the time per token stays flat as the reply grows: the ratio of
the 20,000-token run's per-token time to the 5,000-token run's is ≈ 1.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from tests.browser.conftest import ARGS, CHROMIUM  # the browser the tests drive

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / "jupyter_resumechat" / "widget" / "static" / "panel.js"
RESULTS = Path(__file__).with_name("results")
ORIGIN = "http://bench.invalid/"

# One token is a word; a paragraph every 60 tokens, a code block every 600, a list every 900:
# the shape of a long model answer.
FEED = """async ({n, whole}) => {
  const mod = await import('ORIGINpanel.js');
  const root = document.getElementById('root');
  root.replaceChildren();
  const piece = (i) => {
    if (i % 900 === 450) return '\\n\\n- one item\\n- two items\\n- three\\n\\n';
    if (i % 600 === 300) return '\\n\\n```python\\nfor i in range(10):\\n    print(i)\\n```\\n\\n';
    if (i % 60 === 59) return 'end.\\n\\n';
    return 'word ';
  };
  const live = whole ? null : new mod.LiveMarkdown(root);
  let text = '';
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    text += piece(i);
    if (live) live.update(text); else root.innerHTML = mod.renderMarkdown(text);
  }
  const ms = performance.now() - start;
  return {ms, chars: text.length, nodes: root.querySelectorAll('*').length};
}""".replace("ORIGIN", ORIGIN)


def measure(page, n: int, whole: bool, runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        result = page.evaluate(FEED, {"n": n, "whole": whole})
        times.append(result["ms"])
    median = statistics.median(times)
    return {
        "tokens": n,
        "ms": median,
        "us_per_token": 1000 * median / n,
        "min": min(times),
        "max": max(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    runs = 1 if args.quick else 3
    live_sizes = [1000, 2000] if args.quick else [5000, 10000, 20000]
    whole_sizes = [500, 1000] if args.quick else [1000, 2000, 4000]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page()
        page.route(
            f"{ORIGIN}panel.js", lambda r: r.fulfill(body=BUNDLE.read_bytes(), content_type="text/javascript")
        )
        page.route(
            ORIGIN, lambda r: r.fulfill(body="<!doctype html><div id=root></div>", content_type="text/html")
        )
        page.goto(ORIGIN)
        measure(page, live_sizes[0], False, 1)  # warm the JIT up before any figure counts
        live = [measure(page, n, False, runs) for n in live_sizes]
        whole = [measure(page, n, True, runs) for n in whole_sizes]
        browser.close()
    lines = [
        "# Panel rendering of a streaming reply",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; `python -m bench.panel_render`"
        f"{' --quick' if args.quick else ''}; Chromium headless; median of {runs} run(s).",
        "",
        "| renderer | tokens | total ms | µs per token | min–max ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, rows in (("LiveMarkdown (the panel)", live), ("whole text per token (before)", whole)):
        for r in rows:
            lines.append(
                f"| {name} | {r['tokens']:,} | {r['ms']:.0f} | {r['us_per_token']:.1f} | "
                f"{r['min']:.0f}–{r['max']:.0f} |"
            )
    growth_live = live[-1]["us_per_token"] / live[0]["us_per_token"]
    growth_whole = whole[-1]["us_per_token"] / whole[0]["us_per_token"]
    lines += [
        "",
        f"Per-token time, largest run over smallest: LiveMarkdown {growth_live:.2f}× over "
        f"{live[-1]['tokens'] // live[0]['tokens']}× the tokens (linear: ≈ 1); whole-text rendering "
        f"{growth_whole:.2f}× over {whole[-1]['tokens'] // whole[0]['tokens']}× the tokens (quadratic: ≈ the "
        "token ratio).",
        "",
    ]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "panel-render.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
