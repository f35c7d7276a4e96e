"""The documentation site in a real browser: headless Chromium opens the built site.

It builds the site as `make docs` does (strict), serves it over HTTP on loopback (the search
index is fetched, which `file://` does not allow), and checks what a reader sees: the home
page and the detection pages render (screenshots in `site/_screenshots/`), the detection
notebook's pictures load, the search box finds `NonMaxSuppression`, and no internal link of
any page answers 404. Chromium comes from Debian (`make test-slow` installs it where it
can); elsewhere the test is skipped and says so.
"""

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SITE = os.path.join(ROOT, "site")
SCREENSHOTS = os.path.join(SITE, "_screenshots")

pytestmark = pytest.mark.slow  # builds the site (about 15 s) and starts a browser


class _Links(HTMLParser):
    """The `href` and `src` values of a page."""

    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.links.append(value)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site_url():
    """Builds the site into site/ and serves it on a free loopback port."""
    mkdocs = shutil.which("mkdocs", path=os.path.dirname(sys.executable))
    if mkdocs is None:
        pytest.skip("mkdocs is not installed: pip install -e '.[docs]' (make test does)")
    build = subprocess.run([mkdocs, "build", "--strict", "--site-dir", SITE], cwd=ROOT,
                           capture_output=True, text=True)
    assert build.returncode == 0, build.stderr[-3000:]
    handler = functools.partial(_QuietHandler, directory=SITE)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.skip("Chromium and its driver are not installed: apt-get install chromium "
                    "chromium-driver (make test-slow does where it can)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(driver), options=options)
    browser.set_page_load_timeout(60)
    yield browser
    browser.quit()


def _screenshot(browser, name):
    os.makedirs(SCREENSHOTS, exist_ok=True)
    path = os.path.join(SCREENSHOTS, f"{name}.png")
    assert browser.save_screenshot(path), path
    assert os.path.getsize(path) > 20_000, f"{path} is nearly empty"
    return path


def _broken_images(browser):
    """The page's images that did not load (no pixels), once every one has finished."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(browser, 30).until(
        lambda b: b.execute_script("return [...document.images].every(i => i.complete)"))
    return browser.execute_script(
        "return [...document.images].filter(i => i.naturalWidth === 0).map(i => i.src)")


def test_home_and_detection_pages_render(site_url, browser):
    _open(browser, site_url, least_images=1)
    assert "tfvision" in browser.title
    assert "make demo" in browser.find_element("css selector", "article").text
    assert not _broken_images(browser)
    _screenshot(browser, "home")

    _open(browser, site_url + "detection/")
    assert "SSD" in browser.find_element("css selector", "article h1").text
    assert not _broken_images(browser)
    _screenshot(browser, "detection")


def _open(browser, url, least_images=0):
    """Opens `url` and waits (up to 60 s) until the document is complete with at least
    `least_images` pictures: on a busy machine `get` may return before the page is parsed."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(url)
    try:
        WebDriverWait(browser, 60).until(lambda b: b.execute_script(
            "return document.readyState === 'complete' && document.images.length >= "
            f"{least_images}"))
    except TimeoutException:
        pass  # the caller's assertions say what is missing


def test_detection_notebook_pictures_load(site_url, browser):
    _open(browser, site_url + "notebooks/detection/", least_images=3)
    images = browser.execute_script("return document.images.length")
    assert not _broken_images(browser)
    # The data, the anchors and their matching, and the predictions (each a committed output).
    assert images >= 3, f"{images} pictures on the detection notebook's page"
    text = browser.find_element("css selector", "body").text
    assert "mAP@0.5 (VOC07)" in text, "the notebook's printed outputs are missing"
    browser.execute_script(
        "document.querySelector('img[src^=\"data:image/png\"]').scrollIntoView()")
    time.sleep(1)  # the header's title changes with the scroll, in a short animation
    _screenshot(browser, "detection_notebook")


def test_search_finds_non_max_suppression(site_url, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    _open(browser, site_url)
    box = browser.find_element(By.CSS_SELECTOR, "input.md-search__input")
    box.click()
    box.send_keys("NonMaxSuppression")
    results = WebDriverWait(browser, 30).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, ".md-search-result__item"))
    links = [r.find_element(By.TAG_NAME, "a").get_attribute("href") for r in results]
    assert any("api/layers" in link for link in links), links
    _screenshot(browser, "search")


def test_no_internal_link_answers_404(site_url):
    """Every page reachable from the home page, and every link, picture, script and style
    sheet they name on this site, answers 200."""
    pages, seen, broken, visited = [site_url], {site_url}, [], 0
    while pages:
        page = pages.pop()
        visited += 1
        with urllib.request.urlopen(page) as response:
            html = response.read().decode("utf-8", "replace")
        parser = _Links()
        parser.feed(html)
        for link in parser.links:
            url = urllib.parse.urljoin(page, link).split("#")[0]
            if not url.startswith(site_url) or url in seen:
                continue
            seen.add(url)
            try:
                with urllib.request.urlopen(url) as response:
                    is_page = response.headers.get_content_type() == "text/html"
            except urllib.error.HTTPError as error:
                broken.append(f"{url} ({error.code}, linked from {page})")
                continue
            if is_page:
                pages.append(url)
    assert not broken, "\n".join(broken)
    # The guides, the notebooks, the gallery and the API reference's pages.
    assert visited >= 30, f"only {visited} pages reachable from the home page"
