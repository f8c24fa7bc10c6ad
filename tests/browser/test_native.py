"""The chat looks native inside JupyterLab 4 and Notebook 7 (issue 28): a reply is
rendered by JupyterLab's own markdown renderer, as an untrusted markdown cell,
with the code blocks' buttons still working, and the header's buttons are
JupyterLab toolbar buttons with LabIcons."""

from __future__ import annotations

from tests.browser.notebook import TIMEOUT

REPLY = (
    "## Steps\n\nA paragraph with **bold** and `inline code`.\n\n"
    "```python\nprint('from the reply')\n```\n\n- one\n- two\n"
)
DONE = """() => { const b = [...document.querySelectorAll('.rc-panel .rc-assistant')].pop();
  return b && !b.classList.contains('rc-status-streaming') && b.querySelector('.rc-body .jp-RenderedMarkdown pre .rc-copy'); }"""


def test_a_reply_is_rendered_by_jupyterlabs_markdown_renderer(tab):
    tab.send(f"/repeat 1 {REPLY}")
    tab.page.wait_for_function(DONE, timeout=TIMEOUT)
    rendered = tab.panel().locator(".rc-assistant .rc-body .jp-RenderedMarkdown.jp-RenderedHTMLCommon").last
    assert rendered.locator("h2").inner_text().startswith("Steps")
    assert rendered.locator("h2").get_attribute("data-jupyter-id") == "Steps"  # JupyterLab's header anchors
    assert rendered.locator("strong").inner_text() == "bold"
    assert rendered.locator("li").count() == 2
    assert rendered.locator("pre code").inner_text().strip() == "print('from the reply')"

    copy = rendered.locator("pre .rc-copy")
    copy.click()
    tab.page.wait_for_function(
        "() => [...document.querySelectorAll('.rc-panel .rc-copy')].some((b) => b.textContent === 'Copied')",
        timeout=TIMEOUT,
    )
    cells = tab.page.locator(".jp-Notebook .jp-Cell")
    count = cells.count()
    rendered.locator("pre .rc-insert").click()
    tab.page.wait_for_function(
        "(n) => document.querySelectorAll('.jp-Notebook .jp-Cell').length === n + 1",
        arg=count,
        timeout=TIMEOUT,
    )
    assert cells.nth(1).locator(".cm-content").inner_text() == "print('from the reply')"


def test_a_streaming_reply_is_rendered_by_jupyterlab_as_it_grows(tab):
    tab.send("/pace 0.02 /repeat 150 **bold** word ")
    tab.page.wait_for_function(
        """() => { const b = document.querySelector('.rc-panel .rc-status-streaming .rc-body');
             return b && b.querySelector('.jp-RenderedMarkdown strong') && b.innerText.length > 40; }""",
        timeout=TIMEOUT,
    )
    tab.wait_reply(("bold word " * 150).strip())
    assert tab.panel().locator(".rc-assistant .rc-body .jp-RenderedMarkdown").count() == 1


def test_script_and_onerror_in_a_reply_do_not_run_and_nothing_loads(tab):
    payload = (
        '<img src=x onerror="window.__pwned=1"> <script>window.__pwned=2</script>\n\n'
        '![tracker](http://127.0.0.1:9/pixel.png) <svg onload="window.__pwned=5"></svg>\n\n'
        '[click me](javascript:window.__pwned=3) <a href="javascript:window.__pwned=4">raw</a> '
        '<b onmouseover="window.__pwned=6">hover</b>'
    )
    loaded: list[str] = []
    tab.page.on(
        "request", lambda r: loaded.append(r.url) if "pixel.png" in r.url or r.url.endswith("/x") else None
    )
    tab.send(f"/repeat 1 {payload}")
    tab.page.wait_for_function(
        """() => { const b = [...document.querySelectorAll('.rc-panel .rc-assistant')].pop();
             return b && !b.classList.contains('rc-status-streaming') && b.querySelector('.rc-body .jp-RenderedMarkdown'); }""",
        timeout=TIMEOUT,
    )
    body = tab.panel().locator(".rc-assistant .rc-body").last
    assert body.locator("img, script, svg, iframe").count() == 0
    assert "tracker" in body.inner_text()  # an image is its alt text
    for link in body.locator("a").all():
        assert not (link.get_attribute("href") or "").lower().startswith("javascript")
    body.get_by_text("click me").click()
    body.get_by_text("hover").hover()
    assert tab.page.evaluate("window.__pwned") is None
    assert loaded == []


def test_the_header_buttons_are_jupyterlab_toolbar_buttons_with_icons(tab):
    header = tab.panel().locator(".rc-header")
    assert "jp-Toolbar" in (header.get_attribute("class") or "")
    for name, cls in (("New conversation", "rc-new"), ("Conversations", "rc-history")):
        button = header.get_by_role("button", name=name)
        assert "jp-ToolbarButtonComponent" in (button.get_attribute("class") or "")
        assert cls in (button.get_attribute("class") or "")
        assert button.locator("xpath=..").get_attribute("class").split().count("jp-ToolbarButton") == 1
        assert button.locator("svg").count() == 1
        assert button.get_attribute("title") == name
