"""Debian's headless Chromium driven by Selenium, and the few ways the tests find Quasar's widgets."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from typing import TypeVar

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

T = TypeVar("T")


def chromium(language: str = "en-US", zone: str | None = None, width: int = 1400) -> webdriver.Chrome:
    """A browser asking for pages in `language`, in time zone `zone` (the machine's if None), its
    window `width` pixels wide."""
    binary, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not binary or not driver:
        raise RuntimeError("install Debian's chromium and chromium-driver (scripts/test does)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",  # needed as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--disable-background-networking",  # nothing but 127.0.0.1
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--window-size={width},1000",
        f"--lang={language}",
    ):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": language})
    browser = webdriver.Chrome(options=options, service=Service(driver))
    browser.implicitly_wait(0)
    if zone is not None:
        browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": zone})
    return browser


# What the sign-in page says, by language: the fields, its button, and a text of the overview.
SIGN_IN = {
    "en": ("Username", "Password", "Sign in", "contracts waiting"),
    "ru": ("Имя пользователя", "Пароль", "Войти", "контрактов ждут"),
}


def sign_in(browser: webdriver.Chrome, web: str, username: str, password: str, language: str = "en") -> None:
    """Sign in on the page as a user would, and wait for the overview."""
    user_field, password_field, go, overview = SIGN_IN[language]
    browser.get(f"{web}/login")
    field(browser, user_field).send_keys(username)
    field(browser, password_field).send_keys(password)
    click(browser, button(browser, go))
    text_shown(browser, overview)


def eventually(probe: Callable[[], T | None], timeout: float = 20, what: str = "") -> T:
    """Poll `probe` until it returns something truthy (exceptions count as not yet)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except Exception as exc:  # noqa: BLE001 - the page is still changing
            last = exc
        time.sleep(0.1)
    raise AssertionError(
        f"timed out waiting for {what or probe}" + (f" (last error: {last})" if last else "")
    )


def field(browser: webdriver.Chrome, label: str) -> WebElement:
    """The input or textarea of the Quasar field labelled `label`."""
    xpath = (
        "//label[contains(@class,'q-field')][.//div[contains(@class,'q-field__label')"
        f" and normalize-space()='{label}']]//*[self::input or self::textarea]"
    )
    return eventually(lambda: _shown(browser.find_elements(By.XPATH, xpath)), what=f"the field {label!r}")


def select(browser: webdriver.Chrome, label: str) -> WebElement:
    """The Quasar select labelled `label` (click it to open its options)."""
    xpath = (
        "//label[contains(@class,'q-select')][.//div[contains(@class,'q-field__label')"
        f" and normalize-space()='{label}']]"
    )
    return eventually(lambda: _shown(browser.find_elements(By.XPATH, xpath)), what=f"the select {label!r}")


def button(browser: webdriver.Chrome, text: str) -> WebElement:
    xpath = f"//button[.//span[normalize-space()='{text}']]"
    return eventually(lambda: _shown(browser.find_elements(By.XPATH, xpath)), what=f"the button {text!r}")


def text_shown(browser: webdriver.Chrome, text: str, timeout: float = 20) -> WebElement:
    xpath = f"//*[not(self::script)][text()[contains(normalize-space(.), {_literal(text)})]]"
    return eventually(lambda: _shown(browser.find_elements(By.XPATH, xpath)), timeout, f"the text {text!r}")


def click(browser: webdriver.Chrome, element: WebElement) -> None:
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def _shown(elements: list[WebElement]) -> WebElement | None:
    return next((e for e in elements if e.is_displayed()), None)


def _literal(text: str) -> str:
    if "'" not in text:
        return f"'{text}'"
    parts = text.split("'")
    return "concat(" + ', "\'", '.join(f"'{p}'" for p in parts) + ")"
