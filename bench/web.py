"""The web page as a person meets it: its weight, and the time from pressing Enter to seeing results.

    python -m bench.web [--kb DIR] [--runs 10] [--screenshots docs]

Starts `kb serve` on a free port over DIR (default: the shipped corpus, copied and indexed with
the default encoder in a temporary folder), opens the page in headless Chromium (Debian's
chromium and chromedriver), warms the server up with three searches, then types one question
after another into the search box and presses Enter. The page itself measures each search with
performance.now(): from the Enter keydown to the results drawn (the last change to the results
list), and to the next frame after that (painted); with the request's own timing (Resource
Timing) it splits into the request as the browser saw it and the drawing after the response.
The server's answer time for the same request is measured beside it from Python. The questions are the first N of eval/queries.yaml, so each search is new.

--screenshots DIR also writes the PNGs the README shows: the search page (Danish interface, the
trust question, two passages in the basket) and the handout downloaded from that basket.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from serving import start_server  # noqa: E402  (the tests' way of running `kb serve` on a free port)

PAGE = REPO / "kb_server" / "web" / "index.html"
TRUST = "how do we build trust with skeptical citizens"

# Installed in the page before each search: Enter's keydown time, then the time of the last
# change to #results once the page marks the search done (aria-busy removed), and the next frame.
MEASURE = """
window.__kbMeasure = null;
const box = document.getElementById('q'), results = document.getElementById('results');
let pressed = null, drawn = null;
box.addEventListener('keydown', (e) => { if (e.key === 'Enter') pressed = performance.now(); }, {capture: true, once: true});
const seen = new MutationObserver(() => {
  drawn = performance.now();
  if (pressed !== null && !results.hasAttribute('aria-busy') && results.querySelector('article.hit')) {
    seen.disconnect();
    const request = performance.getEntriesByType('resource').filter(e => e.name.includes('/v1/search?')).pop();
    requestAnimationFrame(() => setTimeout(() => {
      window.__kbMeasure = {drawn: drawn - pressed, painted: performance.now() - pressed,
                            request: request.responseEnd - request.startTime, drawing: drawn - request.responseEnd};
    }));
  }
});
seen.observe(results, {childList: true, subtree: true, attributes: true});
"""


def browser(downloads: Path, languages: str = "en"):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900",
                f"--lang={languages.split(',')[0]}", "--disable-background-networking", "--no-first-run",
                "--hide-scrollbars"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": languages, "download.default_directory": str(downloads)})
    driver = webdriver.Chrome(service=Service(executable_path="/usr/bin/chromedriver"), options=options)
    driver.set_script_timeout(120)
    return driver


def search(driver, question: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    box = driver.find_element(By.ID, "q")
    box.clear()
    box.send_keys(question, Keys.ENTER)
    WebDriverWait(driver, 120).until(lambda d: d.execute_script(
        "return !document.querySelector('#results[aria-busy]') && document.querySelector('#results article.hit')"))


def timed_search(driver, question: str) -> dict:
    """The page's own measurement of one search: the observer is armed, Enter pressed, the
    result read back when the page has stored it."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    box = driver.find_element(By.ID, "q")
    box.clear()
    box.send_keys(question)
    driver.execute_script(MEASURE)
    box.send_keys(Keys.ENTER)
    return WebDriverWait(driver, 120, poll_frequency=0.05).until(lambda d: d.execute_script("return window.__kbMeasure"))


def server_ms(client: httpx.Client, question: str) -> float:
    """The page's request, from Python over a kept-alive connection: the server's share."""
    started = time.perf_counter()
    response = client.get("/v1/search", params={"q": question, "top_k": 10, "details": "true"})
    response.raise_for_status()
    return (time.perf_counter() - started) * 1000


def spread(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 1), "min": round(min(values), 1), "max": round(max(values), 1)}


def page_weight() -> dict:
    raw = PAGE.read_bytes()
    return {"bytes": len(raw), "gzip_bytes": len(gzip.compress(raw, compresslevel=9))}


def screenshots(driver, url: str, out: Path, downloads: Path) -> list[Path]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{url}/")
    driver.execute_script("localStorage.clear(); localStorage.setItem('kb.ui-language', 'da');")
    driver.get(f"{url}/?q={TRUST.replace(' ', '+')}")
    WebDriverWait(driver, 120).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#results article.hit"))
    driver.find_element(By.ID, "new-theme").send_keys("Tillid og skeptiske borgere", Keys.ENTER)
    for _ in range(2):  # the results are drawn again after each addition
        driver.find_element(By.CSS_SELECTOR, "#results article.hit .add:not([aria-disabled])").click()
    driver.find_element(By.ID, "h-title").clear()
    driver.find_element(By.ID, "h-title").send_keys("Samskabelse i praksis", Keys.TAB)
    driver.execute_script("window.scrollTo(0, 0); document.activeElement.blur();")
    shots = [out / "web-search.png"]
    driver.save_screenshot(str(shots[0]))
    driver.find_element(By.ID, "dl-html").click()
    handout = downloads / "handout.html"
    WebDriverWait(driver, 60).until(lambda d: handout.is_file() and handout.stat().st_size > 0)
    driver.get(handout.resolve().as_uri())
    shots.append(out / "web-handout.png")
    driver.save_screenshot(str(shots[1]))
    driver.execute_script("localStorage.clear();")
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", help="an indexed knowledge base (default: the shipped corpus, indexed in a temporary folder)")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--screenshots", metavar="DIR", help="also write the README's screenshots into DIR")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kb-bench-web-"))
    try:
        if args.kb:
            root = Path(args.kb).resolve()
        else:
            root = work / "kb"
            shutil.copytree(REPO / "corpus", root / "corpus")
            import subprocess

            subprocess.run([sys.executable, "-m", "search_cli.app", "--kb", str(root), "index"], check=True,
                           capture_output=True)
        served = start_server(root)
        downloads = work / "downloads"
        downloads.mkdir()
        driver = browser(downloads)
        try:
            questions = [q["query"] for q in yaml.safe_load((REPO / "eval" / "queries.yaml").read_text(encoding="utf-8"))["queries"]]
            driver.get(f"{served.url}/")
            load_before = round(os.getloadavg()[0], 2)
            for question in questions[-3:]:  # warm-up: encoder, index, the browser's own caches
                search(driver, question)
            runs = []
            with httpx.Client(base_url=served.url, timeout=60) as client:
                server_ms(client, questions[0])
                for question in questions[: args.runs]:
                    page = timed_search(driver, question)
                    runs.append({"question": question, **page, "server_ms": server_ms(client, question)})
            report = {
                "load_average_1min": {"before": load_before, "after": round(os.getloadavg()[0], 2)},
                "page": page_weight(),
                "runs": len(runs),
                "enter_to_results_drawn_ms": spread([r["drawn"] for r in runs]),
                "enter_to_painted_ms": spread([r["painted"] for r in runs]),
                "request_in_browser_ms": spread([r["request"] for r in runs]),
                "response_to_drawn_ms": spread([r["drawing"] for r in runs]),
                "server_answer_ms": spread([r["server_ms"] for r in runs]),
                "raw": runs,
            }
            if args.screenshots:
                out = Path(args.screenshots)
                out.mkdir(parents=True, exist_ok=True)
                report["screenshots"] = {str(p): p.stat().st_size for p in screenshots(driver, served.url, out, downloads)}
        finally:
            driver.quit()
            served.stop()
        print(json.dumps(report, ensure_ascii=False, indent=2))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
