"""The web page at `/`, driven in a real headless Chromium against a real `kb serve`.

What a caseworker or trainer does and sees: a search with cited, highlighted passages; filters;
a passage in its context; a handout basket that survives a reload and downloads a handout;
three interface languages; a read token asked once; and an accessibility check (axe-core)
inside the page. The browser is Debian's chromium with its chromedriver, driven by Selenium
(never allowed to download a driver); axe-core comes from npm into .ci-cache (see .ci/run).
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from conftest import run_kb
from serving import TOKEN, copy_kb, start_server

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = REPO / ".ci-cache" / "node_modules" / "axe-core" / "axe.min.js"

TRUST = "how do we build trust with skeptical citizens"
TVERSKOV = "corpus/documents/tverskov-samskabelse-i-kommuner.txt:17-21"
KOBRO_QUESTION = "hvilke verktøy finnes for samskaping"

try:
    import selenium
except ImportError:
    selenium = None

needs_browser = pytest.mark.skipif(
    selenium is None or not CHROMIUM.exists() or not CHROMEDRIVER.exists(),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver) "
           "and selenium (pip install -e '.[test]')",
)
needs_axe = pytest.mark.skipif(
    not AXE.is_file(), reason=f"axe-core is not installed: npm install --no-save --prefix {REPO / '.ci-cache'} axe-core@4.14.1"
)


# -- servers and browsers -----------------------------------------------------------------------
@pytest.fixture(scope="session")
def real_server(shipped_kb_real, tmp_path_factory):
    """The shipped corpus with the real encoder: which passage answers a question."""
    served = start_server(copy_kb(shipped_kb_real, tmp_path_factory, "web-real"))
    yield served
    served.stop()


@pytest.fixture(scope="session")
def shipped_copy(shipped_kb, tmp_path_factory) -> Path:
    return copy_kb(shipped_kb, tmp_path_factory, "web-shipped")


@pytest.fixture(scope="session")
def shipped_server(shipped_copy):
    """The shipped corpus with the fake encoder: what the page does with what the server gives."""
    served = start_server(shipped_copy)
    yield served
    served.stop()


@pytest.fixture(scope="module")
def token_server(indexed_fixture_template, tmp_path_factory):
    served = start_server(copy_kb(indexed_fixture_template, tmp_path_factory, "web-token"), env={"KB_TOKENS": TOKEN})
    yield served
    served.stop()


class Browser:
    """One Chromium with a fresh profile: its own storage, languages and download folder."""

    def __init__(self, base: str, downloads: Path, languages: str = "en-GB,en"):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                    "--window-size=1280,1000", f"--lang={languages.split(',')[0]}", "--disable-background-networking",
                    "--disable-component-update", "--no-first-run"):
            options.add_argument(arg)
        options.add_experimental_option("prefs", {
            "intl.accept_languages": languages, "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
        })
        options.set_capability("goog:loggingPrefs", {"browser": "SEVERE"})
        self.downloads = downloads
        self.base = base
        # an explicit driver path: Selenium Manager never looks for (or downloads) one
        self.driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
        self.driver.set_script_timeout(60)

    def open(self, path: str = "/"):
        self.driver.get(self.base + path)
        self.wait_idle()

    def wait(self, condition, timeout: float = 60, message: str = ""):
        from selenium.webdriver.support.ui import WebDriverWait

        return WebDriverWait(self.driver, timeout).until(lambda d: condition(), message)

    def js(self, script: str, *args):
        return self.driver.execute_script(script, *args)

    def wait_idle(self):
        """No search is running: results and status are those of the last request."""
        self.wait(lambda: self.js("return document.readyState === 'complete' && !document.querySelector('#results[aria-busy]')"))

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def search(self, question: str):
        from selenium.webdriver.common.keys import Keys

        box = self.find("#q")
        box.clear()
        box.send_keys(question, Keys.ENTER)
        self.wait_idle()

    def choose(self, select_css: str, value: str):
        from selenium.webdriver.support.ui import Select

        Select(self.find(select_css)).select_by_value(value)
        self.wait_idle()

    def results(self) -> list[dict]:
        """Each result as a reader sees it."""
        return self.js("""
            return [...document.querySelectorAll('#results article.hit')].map(a => ({
              heading: a.querySelector('h3').innerText, meta: a.querySelector('.meta').innerText,
              citation: a.querySelector('.cite').innerText, text: a.querySelector('.text').innerText,
              lang: a.querySelector('.text').lang, marked: [...a.querySelectorAll('.text mark')].map(m => m.innerText),
              chunk: a.dataset.chunk}));""")

    def status(self) -> str:
        return self.find("#status").text

    def press(self, button):
        """Activate a button from the keyboard, as a keyboard user does."""
        from selenium.webdriver.common.keys import Keys

        self.js("arguments[0].focus()", button)
        assert self.js("return document.activeElement === arguments[0]", button)
        button.send_keys(Keys.ENTER)

    def downloaded(self, name: str, timeout: float = 60) -> Path:
        path = self.downloads / name
        self.wait(lambda: path.is_file() and path.stat().st_size > 0
                  and not list(self.downloads.glob("*.crdownload")), timeout, f"{name} was not downloaded")
        return path

    def as_new_visitor(self, downloads: Path):
        """This Chromium as a fresh one: a new tab (no history, no session storage), the site's stored
        data and permissions cleared, downloads into a new folder. Starting Chromium costs a second."""
        first = self.driver.current_window_handle
        self.driver.switch_to.new_window("tab")
        fresh = self.driver.current_window_handle
        self.driver.switch_to.window(first)
        self.driver.close()
        self.driver.switch_to.window(fresh)
        self.driver.execute_cdp_cmd("Storage.clearDataForOrigin", {"origin": self.base, "storageTypes": "all"})
        self.driver.execute_cdp_cmd("Browser.resetPermissions", {})
        self.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        self.downloads = downloads

    def quit(self):
        self.driver.quit()


@pytest.fixture
def browser_for(tmp_path):
    opened: list[Browser] = []

    def make(server, languages: str = "en-GB,en") -> Browser:
        downloads = tmp_path / f"downloads-{len(opened)}"
        downloads.mkdir()
        browser = Browser(server.url, downloads, languages)
        opened.append(browser)
        return browser

    yield make
    for browser in opened:
        browser.quit()


@pytest.fixture(scope="module")
def shipped_browser(shipped_server, tmp_path_factory):
    """One Chromium on the shipped server for the module's tests."""
    page = Browser(shipped_server.url, tmp_path_factory.mktemp("downloads"))
    yield page
    page.quit()


@pytest.fixture
def browser(shipped_browser, tmp_path) -> Browser:
    """The page as a new visitor opens it."""
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    shipped_browser.as_new_visitor(downloads)
    shipped_browser.open()
    assert shipped_browser.js("return [history.length <= 2, localStorage.length, sessionStorage.length]") == [True, 0, 0]
    return shipped_browser


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlparse(url).query)


# -- searching -----------------------------------------------------------------------------------
@needs_browser
@pytest.mark.quality
def test_trust_question_shows_the_tverskov_passage_with_its_citation(browser_for, real_server):
    browser = browser_for(real_server)
    browser.open()
    browser.search(TRUST)
    results = browser.results()
    assert len(results) == 10
    tverskov = next((r for r in results[:3] if r["citation"] == TVERSKOV), None)
    assert tverskov, [r["citation"] for r in results]
    assert tverskov["heading"].split(". ", 1)[1].startswith("Samskabelse i kommuner — Det kræver dialog")
    assert tverskov["meta"] == "Danish · Course offer"
    assert tverskov["lang"] == "da"
    assert "Derfor begynder borgerinddragelse og samskabelse med en tillidsopbygning." in tverskov["text"]
    marked = {word.lower() for word in tverskov["marked"]}
    assert {"tillidsopbygning", "skeptiske"} <= marked, marked  # the question's words, found through the glossary
    assert browser.status() == f"10 passages on “{TRUST}”"

    # the address holds the question: shared as a link or reloaded, it shows the same passages
    assert query_of(browser.driver.current_url) == {"q": [TRUST]}
    browser.driver.refresh()
    browser.wait_idle()
    assert browser.find("#q").get_attribute("value") == TRUST
    assert [r["chunk"] for r in browser.results()] == [r["chunk"] for r in results]


@needs_browser
def test_a_weak_match_says_so_beside_the_nearest_passages(browser):
    browser.search("the of and to")  # nothing in the corpus answers this
    note = "Nothing matches this question well: these are the nearest passages, not answers. Try other words."
    assert browser.results(), "the nearest passages are still shown"
    assert browser.find("#weak-note").text == note
    assert browser.status().endswith(f". {note}")  # announced with the count
    browser.search(TRUST)
    assert browser.results() and not browser.find_all("#weak-note")
    assert browser.status() == f"10 passages on “{TRUST}”"


@needs_browser
def test_filters_narrow_the_search_and_live_in_the_address(browser):
    browser.search(TRUST)
    browser.choose("#f-lang", "nb")
    results = browser.results()
    assert results and all(r["lang"] == "nb" and r["meta"].startswith("Norwegian Bokmål") for r in results)
    assert query_of(browser.driver.current_url) == {"q": [TRUST], "lang": ["nb"]}

    browser.choose("#f-lang", "")
    browser.choose("#f-doc", "manifest-for-samskabelse")
    titles = {r["heading"].split(". ", 1)[1].split(" — ")[0] for r in browser.results()}
    assert titles == {"Manifest for National Bevægelse for Samskabelse"}

    browser.choose("#f-doc", "")
    browser.choose("#f-kind", "slides")
    results = browser.results()
    assert results and all(r["meta"].endswith("· Slides") for r in results)

    browser.driver.refresh()
    browser.wait_idle()
    assert browser.find("#f-kind").get_attribute("value") == "slides"
    assert [r["chunk"] for r in browser.results()] == [r["chunk"] for r in results]
    browser.driver.back()  # the previous search, as it was
    browser.wait_idle()
    assert browser.find("#f-kind").get_attribute("value") == ""
    assert query_of(browser.driver.current_url) == {"q": [TRUST]}


@needs_browser
def test_a_passage_opens_in_its_context_and_the_focus_comes_back(browser):
    from selenium.webdriver.common.keys import Keys

    browser.search(TRUST)
    article = next(a for a in browser.find_all("article.hit") if TVERSKOV in a.text)
    opener = article.find_element("css selector", ".show-context")
    browser.press(opener)
    browser.wait(lambda: browser.js("return document.getElementById('context').open"))
    blocks = browser.js("""return [...document.querySelectorAll('#context-body .passage')].map(p =>
        ({cls: p.className, cite: p.querySelector('.cite').innerText, text: p.querySelector('.text').innerText}));""")
    this = [b for b in blocks if "this" in b["cls"]]
    assert [b["cite"] for b in this] == [TVERSKOV]
    lines = [int(re.search(r":(\d+)", b["cite"]).group(1)) for b in blocks]
    assert lines == sorted(lines) and len(blocks) >= 3  # neighbours before and after, in document order
    assert lines[0] < 17 and lines[-1] > 21
    assert browser.js("return document.activeElement.id") == "context-close"
    browser.js("return document.activeElement").send_keys(Keys.ESCAPE)
    browser.wait(lambda: not browser.js("return document.getElementById('context').open"))
    focused = browser.js("return [document.activeElement.className, document.activeElement.closest('article')?.dataset.chunk]")
    assert focused == ["show-context", "tverskov-samskabelse-i-kommuner#2"]


@needs_browser
def test_a_citation_is_copied_with_one_click(browser):
    browser.driver.execute_cdp_cmd("Browser.grantPermissions", {
        "origin": browser.base, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]})
    browser.search(TRUST)
    article = next(a for a in browser.find_all("article.hit") if TVERSKOV in a.text)
    article.find_element("css selector", ".copy").click()
    expected = f"Samskabelse i kommuner, Det kræver dialog, vidensdeling, kompetenceudvikling og ledelsesopbaking ({TVERSKOV})"
    browser.wait(lambda: browser.status() == f"Citation copied: {expected}")
    assert browser.driver.execute_async_script("navigator.clipboard.readText().then(arguments[0])") == expected


@needs_browser
def test_every_control_is_reached_by_tab_with_a_visible_focus(browser):
    """Full keyboard use: Tab from the top of the page reaches every control in reading order,
    and the control with the focus is outlined."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    browser.search(TRUST)
    add_theme(browser, "Tillid")
    add_result(browser, TVERSKOV)
    browser.driver.refresh()  # Tab starts from the top of the page
    browser.wait_idle()
    count = browser.js("""window.controls = [...document.querySelectorAll('a[href], button, input, select, textarea')]
        .filter(e => !e.disabled && e.offsetParent !== null); return controls.length""")
    assert count > 40  # ten results with three buttons each, the search form, the basket
    reached, unmarked = [], []
    for _ in range(count):
        ActionChains(browser.driver).send_keys(Keys.TAB).perform()
        index, style, width, html = browser.js("""const e = document.activeElement, s = getComputedStyle(e);
            return [controls.indexOf(e), s.outlineStyle, parseFloat(s.outlineWidth), e.outerHTML.slice(0, 80)]""")
        reached.append(index)
        if style == "none" or width < 2:
            unmarked.append(html)
    assert reached == list(range(count))
    assert not unmarked, unmarked


# -- the handout basket --------------------------------------------------------------------------
def add_theme(browser: Browser, title: str):
    from selenium.webdriver.common.keys import Keys

    field = browser.find("#new-theme")
    field.send_keys(title, Keys.ENTER)
    browser.wait(lambda: browser.status() == f"Theme “{title}” added")


def add_result(browser: Browser, citation: str) -> str:
    article = next(a for a in browser.find_all("article.hit") if citation == a.find_element("css selector", ".cite").text)
    chunk_id = article.get_attribute("data-chunk")
    browser.press(article.find_element("css selector", ".add"))
    browser.wait(lambda: browser.status().startswith("Added to the theme"))
    # the focus stays on the passage's button, which now says where the passage went
    assert browser.js("return [document.activeElement.closest('article')?.dataset.chunk, "
                      "document.activeElement.getAttribute('aria-disabled')]") == [chunk_id, "true"]
    return chunk_id


def basket(browser: Browser) -> list[tuple[str, list[str]]]:
    """Each theme's name and its passages' citations, in the basket's order."""
    return [tuple(theme) for theme in browser.js("""return [...document.querySelectorAll('#themes .theme')].map(t =>
        [t.querySelector('input').value, [...t.querySelectorAll('li .cite')].map(c => c.innerText)]);""")]


def reader_view(browser: Browser, page: Path) -> dict:
    """What a reader sees in a downloaded handout, opened from disk in the browser."""
    browser.driver.get(page.resolve().as_uri())
    return browser.js("""return {
        lang: document.documentElement.lang,
        h1: [...document.querySelectorAll('h1')].map(h => h.innerText),
        h2: [...document.querySelectorAll('h2')].map(h => h.innerText),
        captions: [...document.querySelectorAll('figcaption')].map(c => c.innerText),
        sources: [...document.querySelectorAll('ol.sources li')].map(li => li.innerText)};""")


@needs_browser
def test_basket_from_two_searches_downloads_a_handout_and_survives_a_reload(browser, shipped_copy):
    browser.search(TRUST)
    add_theme(browser, "Tillid")
    trust = browser.results()
    add_result(browser, TVERSKOV)
    second_citation = next(r["citation"] for r in trust if not re.search("tverskov|kobro", r["citation"]))
    second = add_result(browser, second_citation)
    # added passages say so, and cannot be added twice
    in_basket = browser.js("return [...document.querySelectorAll('#results .add[aria-disabled=true]')].map(b => b.innerText)")
    assert len(in_basket) == 2 and all(text.startswith("In the basket (Tillid)") for text in in_basket)

    browser.search(KOBRO_QUESTION)
    add_theme(browser, "Verktøy")
    kobro = [r for r in browser.results() if "kobro" in r["citation"]][:2]
    assert len(kobro) == 2
    for r in kobro:
        add_result(browser, r["citation"])
    assert basket(browser) == [("Tillid", [TVERSKOV, second_citation]), ("Verktøy", [r["citation"] for r in kobro])]

    # reorder from the keyboard: the second passage up; the focus stays on the moved passage's controls
    up = browser.find(f'[data-focus$="-{second}"][data-focus^="up-"]')
    browser.press(up)
    browser.wait(lambda: basket(browser)[0][1] == [second_citation, TVERSKOV])
    assert browser.js("return document.activeElement.dataset.focus").endswith(second)
    assert browser.status().startswith("Moved")
    # themes move too; then back
    browser.press(browser.find("#themes .theme:nth-child(2) [data-focus^='tu-']"))
    browser.wait(lambda: [t for t, _ in basket(browser)] == ["Verktøy", "Tillid"])
    browser.press(browser.find("#themes .theme:nth-child(1) [data-focus^='td-']"))
    browser.wait(lambda: [t for t, _ in basket(browser)] == ["Tillid", "Verktøy"])
    expected = basket(browser)

    # a reload keeps the basket: same themes, same passages, same order
    browser.driver.refresh()
    browser.wait_idle()
    assert basket(browser) == expected

    browser.find("#h-title").clear()
    browser.find("#h-title").send_keys("Tillid og værktøjer")
    browser.choose("#h-lang", "da")
    browser.press(browser.find("#dl-html"))
    handout = browser.downloaded("handout.html")
    browser.press(browser.find("#dl-md"))
    markdown = browser.downloaded("handout.md").read_text(encoding="utf-8")
    browser.press(browser.find("#dl-plan"))
    plan = browser.downloaded("handout-plan.yaml")

    seen = reader_view(browser, handout)
    assert seen["lang"] == "da"
    assert seen["h1"] == ["Tillid og værktøjer"]
    assert seen["h2"] == ["1. Tillid", "2. Verktøy", "Kilder"]
    captions = [re.fullmatch(r"— \[(\d+)\] (.+) — linje ([\d–]+) \((da|nb)\)", c) for c in seen["captions"]]
    assert all(captions), seen["captions"]
    citations = [c for _, cites in expected for c in cites]  # the basket's order, theme by theme
    numbers: dict[str, str] = {}  # documents numbered in order of first citation
    for citation in citations:
        numbers.setdefault(citation.split(":")[0], str(len(numbers) + 1))
    assert [(m.group(1), m.group(3)) for m in captions] == [
        (numbers[c.split(":")[0]], c.split(":")[1].replace("-", "–")) for c in citations]
    assert [m.group(4) for m in captions] == ["da", "da", "nb", "nb"]
    assert captions[1].group(2).startswith("Samskabelse i kommuner, Det kræver dialog")
    assert len(seen["sources"]) == len(numbers) == 3
    assert seen["sources"][int(numbers[TVERSKOV.split(":")[0]]) - 1].startswith("Kim Tverskov: Samskabelse i kommuner (da, course-offer).")
    assert seen["sources"][2].startswith("Lars U. Kobro: Verktøy for samskaping (nb, slides).")

    # the exported plan is one `kb handout` accepts, and gives the very handout the page downloaded
    assert "chunks:" in plan.read_text(encoding="utf-8")
    run = run_kb(shipped_copy, "handout", str(plan))
    assert run.exit_code == 0, run.output
    assert run.stdout == markdown


# -- languages -------------------------------------------------------------------------------------
@needs_browser
def test_interface_language_follows_the_browser_and_switches(browser_for, shipped_server):
    page = browser_for(shipped_server, "nb-NO,nb,en")
    page.open()
    assert page.js("return document.documentElement.lang") == "nb"
    assert page.find("label[for=q]").text == "Spørsmål (norsk, dansk eller engelsk)"
    assert page.find("#basket-heading").text == "Kurv til utdelingsark"
    page.search(TRUST)
    assert page.status() == f"10 passasjer om «{TRUST}»"
    assert page.find("article.hit .copy").text.startswith("Kopier kildehenvisning")

    page.choose("#ui-lang", "en")
    assert page.js("return document.documentElement.lang") == "en"
    assert page.find("label[for=q]").text == "Question (English, Danish or Norwegian)"
    assert page.find("article.hit .copy").text.startswith("Copy citation")
    assert page.find("#f-lang option[value='']").text == "All languages"

    page.driver.refresh()  # the choice is remembered
    page.wait_idle()
    assert page.js("return document.documentElement.lang") == "en"

    danish = browser_for(shipped_server, "da-DK,da")
    danish.open()
    assert danish.js("return [document.documentElement.lang, document.title]") == ["da", "Vidensbank om samskabelse"]


# -- a server that requires a read token ---------------------------------------------------------
@needs_browser
def test_the_page_asks_for_the_token_once_per_session(browser_for, token_server):
    from selenium.webdriver.common.keys import Keys

    page = browser_for(token_server)
    page.driver.get(token_server.url + "/")
    page.wait(lambda: page.js("return document.getElementById('token').open"))
    assert page.find("#token-message").text == "This server needs a read token. Its operator gives it to you."
    page.find("#token-input").send_keys("wrong-token-0123456789", Keys.ENTER)
    page.wait(lambda: page.find("#token-message").text.startswith("The token was not accepted"))
    assert page.js("return document.getElementById('token').open")
    page.find("#token-input").send_keys(TOKEN, Keys.ENTER)
    page.wait(lambda: not page.js("return document.getElementById('token').open"))
    page.wait(lambda: len(page.find_all("#f-doc option")) == 4)  # all documents, then the three
    page.search("tillid hos skeptiske borgere")
    assert page.results()[0]["citation"].startswith("corpus/tillid.md:")

    page.driver.refresh()  # the token is kept for the session: no second question
    page.wait_idle()
    assert not page.js("return document.getElementById('token').open")
    assert page.results()[0]["citation"].startswith("corpus/tillid.md:")


# -- one self-contained page -----------------------------------------------------------------------
def test_the_page_is_one_self_contained_public_file(shipped_server, token_server):
    response = httpx.get(shipped_server.url + "/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    page = response.text
    assert page.startswith("<!DOCTYPE html>")
    for external in ("http://", "https://", "//cdn", "@import", " src=", "url("):
        assert external not in page, external
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "connect-src 'self'" in policy and "'unsafe-inline'" not in policy
    assert len(gzip.compress(response.content)) < 20_000
    with httpx.Client(base_url=token_server.url) as client:
        assert client.get("/").text == page  # public: a browser cannot send a token when it opens an address
        assert client.get("/v1/documents").status_code == 401  # the data is not


def test_a_basket_plan_renders_through_the_handout_endpoint(shipped_server):
    """The page sends its basket as a plan naming passages; its questions cost no searches, so a
    basket gathered over many searches is not refused for asking too much."""
    questions = [f"question {i}" for i in range(80)]
    plan = {"title": "Kurv", "audience": "Trænere", "language": "en", "themes": [
        {"title": "Tillid", "questions": questions, "chunks": ["tverskov-samskabelse-i-kommuner#2"]}]}
    response = httpx.post(shipped_server.url + "/v1/handout", params={"format": "md"}, json=plan, timeout=60)
    assert response.status_code == 200, response.text
    assert "## 1. Tillid" in response.text and "- question 79" in response.text
    assert re.search(r"^> — \[1\] Samskabelse i kommuner, .* — lines 17–21 \(da\)$", response.text, re.M)
    plan["themes"][0]["chunks"] = ["no-such-doc#1"]
    response = httpx.post(shipped_server.url + "/v1/handout", params={"format": "md"}, json=plan, timeout=60)
    assert response.status_code == 400
    assert response.json()["error"].startswith("plan:1: theme 'Tillid', field 'chunks': the index holds no passage no-such-doc#1")


@needs_browser
def test_the_page_fetches_nothing_but_the_api(browser, shipped_server):
    browser.search(TRUST)
    requested = browser.js("return performance.getEntriesByType('resource').map(e => e.name)")
    assert requested and all(url.startswith(shipped_server.url + "/v1/") for url in requested), requested
    errors = [e for e in browser.driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors  # nothing blocked by the policy, no script errors


# -- accessibility ---------------------------------------------------------------------------------
def axe_violations(browser: Browser) -> list[dict]:
    browser.js(AXE.read_text(encoding="utf-8"))
    return browser.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations.map(v =>
          ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))));""")


@needs_browser
@needs_axe
def test_no_serious_accessibility_violations(browser):
    browser.search(TRUST)
    add_theme(browser, "Tillid")
    add_result(browser, TVERSKOV)
    serious = [v for v in axe_violations(browser) if v["impact"] in ("serious", "critical")]
    assert not serious, serious  # results shown, basket holding a passage

    browser.press(browser.find("article.hit .show-context"))
    browser.wait(lambda: browser.js("return document.getElementById('context').open"))
    serious = [v for v in axe_violations(browser) if v["impact"] in ("serious", "critical")]
    assert not serious, serious  # the context dialog open
