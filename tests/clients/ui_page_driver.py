"""Drives the live view page (/ui) in headless Chromium for tests/ui_page.rs.

Selenium runs /usr/bin/chromium through /usr/bin/chromedriver (Debian's chromium and
chromium-driver), headless, without the sandbox (CI runs as root), in a fresh profile in a temp
folder. The test sends one JSON command per line on stdin and reads one JSON reply per line on
stdout ({"ok": true, ...} or {"ok": false, "error": "..."}); the page is observed as a user sees
it (rows, their text and visibility, the state badges) and worked with real clicks and key
presses. End of stdin quits the browser.
"""

import json
import os
import shutil
import sys
import tempfile
import time

os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager download anything

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

CHROMIUM = os.environ.get("VIVO_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("VIVO_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")

# Each row of a view as the user sees it: its kind (an entry or a notice such as a gap), the
# entry ID, its cells (logs) or whole text, and whether the filter hides it.
ROWS_JS = """
const box = document.getElementById('rows-' + arguments[0]);
return Array.from(box.children).map(el => ({
  kind: el.className,
  id: el.dataset.id === undefined ? null : Number(el.dataset.id),
  cells: el.tagName === 'TR' ? Array.from(el.cells).map(td => td.textContent) : null,
  text: el.textContent,
  hidden: el.hidden,
}));
"""

STATES_JS = """
const out = {};
for (const name of ['logs', 'metrics', 'traces']) {
  const badge = document.getElementById('state-' + name);
  out[name] = {state: badge.dataset.state, text: badge.textContent};
}
return out;
"""


def start_browser():
    profile = tempfile.mkdtemp(prefix="vivo-ui-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-extensions",
        "--user-data-dir=" + profile,
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(20)
    driver.set_script_timeout(20)
    return driver, profile


def wait(timeout, check):
    """Polls check() until it returns something true; returns it, or raises after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError("condition not met within %ss" % timeout)
        time.sleep(0.05)


def run(driver, cmd):
    name = cmd["cmd"]
    timeout = cmd.get("timeout", 10)
    if name == "open":
        driver.get(cmd["url"])
        return {"title": driver.title}
    if name == "title":
        return {"title": driver.title}
    if name == "states":
        return {"states": driver.execute_script(STATES_JS)}
    if name == "wait_states":
        want = cmd["state"]
        last = {}

        def all_in_state():
            last["states"] = driver.execute_script(STATES_JS)
            return all(s["state"] == want for s in last["states"].values())

        try:
            wait(timeout, all_in_state)
        except TimeoutError as e:
            raise TimeoutError("%s; states: %s" % (e, last.get("states")))
        return {"states": last["states"]}
    if name == "rows":
        return {"rows": driver.execute_script(ROWS_JS, cmd["view"])}
    if name == "wait_row":
        # Until a row of the view contains the text, with the wanted visibility.
        view, needle = cmd["view"], cmd["contains"]
        hidden = cmd.get("hidden", False)
        last = {}

        def found():
            last["rows"] = driver.execute_script(ROWS_JS, view)
            return any(needle in r["text"] and r["hidden"] == hidden for r in last["rows"])

        try:
            wait(timeout, found)
        except TimeoutError as e:
            texts = [r["text"][:200] for r in last.get("rows", [])][-20:]
            raise TimeoutError("%s; no row with %r (hidden=%s) in %s: %s" % (e, needle, hidden, view, texts))
        return {"rows": last["rows"]}
    if name == "count":
        return {"count": len(driver.find_elements(By.CSS_SELECTOR, cmd["selector"]))}
    if name == "text":
        return {"text": driver.find_element(By.CSS_SELECTOR, cmd["selector"]).text}
    if name == "click":
        driver.find_element(By.ID, cmd["id"]).click()
        return {}
    if name == "type_filter":
        box = driver.find_element(By.ID, "filter")
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.BACKSPACE)
        if cmd["text"]:
            box.send_keys(cmd["text"])
        return {"value": box.get_attribute("value")}
    if name == "wait_held":
        # Until the pause status says at least n rows are held back.
        def held():
            n = int(driver.find_element(By.ID, "status").get_attribute("data-held") or 0)
            return n if n >= cmd["n"] else 0

        return {"held": wait(timeout, held), "status": driver.find_element(By.ID, "status").text}
    if name == "console":
        return {"entries": [{"level": e["level"], "message": e["message"]} for e in driver.get_log("browser")]}
    raise ValueError("unknown command %r" % name)


def main():
    driver, profile = start_browser()
    try:
        print(json.dumps({"ok": True, "ready": True}), flush=True)
        for line in sys.stdin:
            if not line.strip():
                continue
            try:
                reply = {"ok": True}
                reply.update(run(driver, json.loads(line)))
            except Exception as e:  # reported to the test, which fails with it
                reply = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}
            print(json.dumps(reply), flush=True)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
