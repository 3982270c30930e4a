"""Headless Chromium for the console tests (Debian's chromium, driven by
python3-selenium and chromium-driver): one place for the options and for
the rule that CI must have it while a developer's machine may skip."""
import os
import shutil

from harness import ROOT, HookdCase

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:  # CI installs it (scripts/deps.sh test); say so there, skip elsewhere
    if os.environ.get("CI"):
        raise
    webdriver = By = None

ARTIFACTS = os.path.join(ROOT, "tests", "artifacts")
# for unittest.skipIf: the reason a class of browser tests cannot run here
MISSING = webdriver is None or not shutil.which("chromedriver")
WHY_MISSING = "python3-selenium and chromium-driver needed"


def new_browser():
    os.makedirs(ARTIFACTS, exist_ok=True)
    opts = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000"):
        opts.add_argument(a)
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    b = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=opts)
    b.set_page_load_timeout(30)
    return b


class BrowserCase(HookdCase):
    """A HookdCase with one headless browser for the class (cls.browser)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.browser = new_browser()

    @classmethod
    def tearDownClass(cls):
        cls.browser.quit()
        super().tearDownClass()
