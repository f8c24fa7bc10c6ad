"""What a new user trips over, on JupyterLab 4 and Notebook 7: the reply's meta
line is readable, Copy / Insert below never cover the code at a narrow width,
"New conversation" does not keep the old title, and the Settings Editor's "Send
with" is followed.  One tab per front end walks through all of it (each front
end is a server of its own)."""

from __future__ import annotations

import json

import httpx

from tests.browser.notebook import MIME, TIMEOUT

CONTRAST = """(el) => {
  const rgba = (s) => { const v = s.match(/[\\d.]+/g).map(Number); return v.length === 3 ? [...v, 1] : v; };
  const lum = ([r, g, b]) => { const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b); };
  let back = null;
  for (let n = el; n && !back; n = n.parentElement) { const c = rgba(getComputedStyle(n).backgroundColor); if (c[3] > 0) back = c; }
  const fore = rgba(getComputedStyle(el).color), a = fore[3];
  const seen = fore.slice(0, 3).map((c, i) => c * a + back[i] * (1 - a));
  const [hi, lo] = [lum(seen), lum(back)].sort((x, y) => y - x);
  return {ratio: (hi + 0.05) / (lo + 0.05), px: parseFloat(getComputedStyle(el).fontSize)};
}"""

OVERLAP = """() => [...document.querySelectorAll('.rc-panel .rc-body pre')].filter((pre) => pre.offsetParent)
  .map((pre) => { const code = pre.querySelector('code').getBoundingClientRect();
    return Math.max(...[...pre.querySelectorAll('button')].filter((b) => b.offsetParent)
      .map((b) => b.getBoundingClientRect().bottom)) - code.top; })"""


def test_meta_line_code_buttons_and_new_conversation_title(tab):
    page, panel = tab.page, tab.panel()
    tab.send("hello from a new user")
    tab.wait_reply_count(1)

    meta = panel.locator(".rc-assistant .rc-meta").first
    meta.wait_for(timeout=TIMEOUT)
    seen = meta.evaluate(CONTRAST)
    # not below JupyterLab's smallest type size (--jp-ui-font-size0: 0.8333 of 13 px)
    assert seen["px"] >= 10.8, f"the meta line is {seen['px']} px"
    assert seen["ratio"] >= 4.5, f"the meta line's contrast is {seen['ratio']:.2f}:1"

    page.set_viewport_size({"width": 520, "height": 900})
    page.wait_for_function("() => document.querySelector('.rc-panel').getBoundingClientRect().width < 520")
    overlaps = page.evaluate(OVERLAP)
    assert overlaps and max(overlaps) <= 0, f"the buttons cover the code by {overlaps} px"
    page.set_viewport_size({"width": 1100, "height": 900})

    title = panel.locator(".rc-title")
    page.wait_for_function(
        "() => document.querySelector('.rc-panel .rc-title').textContent !== 'Chat'", timeout=TIMEOUT
    )
    old = title.inner_text()
    panel.get_by_role("button", name="New conversation").click()
    page.wait_for_function("() => !document.querySelector('.rc-panel .rc-assistant')", timeout=TIMEOUT)
    tab.wait_idle()
    assert title.inner_text() != old, "the new conversation kept the old title"
    # saved, as a user would before reloading: the reloaded page reads the notebook from
    # disk, which otherwise still names the old conversation and shows it until the
    # kernel's widget says otherwise (a race the Ctrl+Enter below would lose)
    fresh = title.inner_text()
    tab.saved_until(
        lambda cells: any(
            out.get("data", {}).get(MIME, {}).get("title") == fresh
            and out["data"][MIME].get("conversation_id")
            for out in cells[0].get("outputs", [])
        )
    )

    # Settings: "Send with: Ctrl+Enter" (as the Settings Editor saves it), then a reload
    url = f"{tab.server.base}lab/api/settings/jupyter-resumechat:conversations"
    with httpx.Client(headers=tab.server.headers, timeout=30) as client:
        saved = client.put(url, json={"raw": json.dumps({"sendWith": "Ctrl+Enter"})})
        assert saved.status_code == 204, saved.text
    page.reload()
    box = tab.box()
    box.wait_for(timeout=TIMEOUT)
    page.wait_for_function(
        "() => /Ctrl\\+Enter to send/.test(document.querySelector('.rc-panel textarea').placeholder)",
        timeout=TIMEOUT,
    )
    box.click()
    box.type("two")
    box.press("Enter")  # a new line now
    box.type("lines")
    assert box.input_value() == "two\nlines"
    assert panel.locator(".rc-user").count() == 0
    box.press("Control+Enter")
    tab.wait_reply_count(1)
    assert panel.locator(".rc-user .rc-body").last.inner_text() == "two\nlines"
