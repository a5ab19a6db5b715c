"""The dashboard as a Russian-speaking team meets it, in Debian's headless Chromium asking for Russian
in Moscow: a file saved by Russian Excel (Windows-1251, semicolons) through the wizard, kept through a
reload, to a contract, times in the browser's zone, the Overview by keyboard alone, and the pages at a
phone's width."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from models import Account, Contract, SendMinute
from services import audiences, contracts, team, users, wizard_drafts
from services.recipient_files import wizard_table
from tests.browser import button, chromium, click, eventually, field, select, sign_in, text_shown

PASSWORD = "correct horse"


@pytest.fixture
def russian_browser() -> Iterator:
    b = chromium(language="ru-RU", zone="Europe/Moscow")
    yield b
    b.quit()


async def sign_in_in_russian(browser, web: str) -> None:
    await users.create_first_user("анна", PASSWORD)
    await asyncio.to_thread(sign_in, browser, web, "анна", PASSWORD, "ru")


async def test_a_russian_excel_file_becomes_a_contract_shown_in_moscow_time(
    web, russian_browser, tmp_path: Path
) -> None:
    browser = russian_browser
    await Account.create(name="Продажи", transport="sandbox")
    saved_by_excel = tmp_path / "клиенты.csv"
    rows = ["Телефон;Имя", "+7 999 000-00-01;Анна", "8 (999) 000-00-02;Борис", "не номер;Никто"]
    saved_by_excel.write_bytes(("\r\n".join(rows) + "\r\n").encode("cp1251"))
    await sign_in_in_russian(browser, web)
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "ru"

    await asyncio.to_thread(browser.get, f"{web}/contracts/new")
    click(browser, select(browser, "Аккаунты"))
    click(browser, text_shown(browser, "Продажи · подключён"))
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    click(browser, button(browser, "Далее"))
    upload = eventually(lambda: browser.find_element(By.CSS_SELECTOR, "input[type=file]"), what="the upload")
    upload.send_keys(str(saved_by_excel))
    text_shown(browser, "3 строки · столбцы: Телефон, Имя")
    click(browser, button(browser, "Далее"))
    field(browser, "Сообщение").send_keys("Здравствуйте, {Имя}!")
    text_shown(browser, "Здравствуйте, Анна!")
    for _ in range(50):  # the draft is remembered in the background
        if (await wizard_drafts.recall("анна")).get("template") == "Здравствуйте, {Имя}!":
            break
        await asyncio.sleep(0.1)
    await asyncio.to_thread(browser.refresh)  # a reload keeps the file, the message and the step
    text_shown(browser, "Черновик сохранён таким, каким вы его оставили.")
    text_shown(browser, "Здравствуйте, Анна!")  # the message step, previewing the file's rows
    click(browser, button(browser, "Проверить получателей"))
    text_shown(browser, "Исключить 1 строку")
    text_shown(
        browser,
        "1 номер без кода страны. Добавлен код +7 (Россия), например: 8 (999) 000-00-02 → +7 999 000-00-02",
    )
    click(browser, button(browser, "Далее"))
    field(browser, "Название контракта").send_keys("Ноябрь")
    click(browser, text_shown(browser, "Создать без запуска"))
    click(browser, button(browser, "Создать контракт"))
    eventually(lambda: "/contracts/contract_" in browser.current_url, what="the contract's page")
    text_shown(browser, "Отправлено (Europe/Moscow)")  # the recipients' times, in the browser's zone
    contract = await Contract.get(name="Ноябрь")
    assert contract.total_count == 2


async def test_the_overview_is_used_by_keyboard_alone(web, russian_browser) -> None:
    browser = russian_browser
    account = await Account.create(name="Продажи", transport="sandbox")
    made = await contracts.create_contract(account.id, "Ноябрь", ["79990000001"], ["Привет"])
    await sign_in_in_russian(browser, web)
    body = browser.find_element(By.TAG_NAME, "body")
    for _ in range(40):
        focused = browser.switch_to.active_element
        if (focused.get_attribute("href") or "").endswith(f"/contracts/{made.contract.id}"):
            break
        body = focused
        body.send_keys(Keys.TAB)
    else:
        raise AssertionError("Tab never reached the contract")
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    eventually(lambda: browser.current_url.endswith(f"/contracts/{made.contract.id}"), what="its page")


async def test_at_a_phones_width_the_menu_folds_and_nothing_runs_off_the_side(web) -> None:
    browser = chromium(language="ru-RU", width=390)
    try:
        await Account.create(name="Продажи", transport="sandbox")
        await sign_in_in_russian(browser, web)
        table = wizard_table.from_csv_text("телефон,имя\n79990000001,Анна\n")
        kept = await audiences.keep_upload("анна", "клиенты.csv", table)
        await audiences.save(kept, "Постоянные клиенты из Москвы", ["вип", "Москва", "ноябрь"], "анна")
        await team.invite("анна", users.OPERATOR)
        for path in ("/accounts", "/contracts/new", "/audiences", "/team", "/"):
            await asyncio.to_thread(browser.get, f"{web}{path}")
            menu = eventually(lambda: browser.find_element(By.CSS_SELECTOR, "button[aria-label='Меню']"))
            assert menu.is_displayed(), path
            assert not [a for a in browser.find_elements(By.LINK_TEXT, "Аккаунты") if a.is_displayed()], path
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, (path, overflow)
        click(browser, menu)
        item = "//div[contains(@class, 'q-item')][normalize-space()='Аккаунты']"
        click(browser, eventually(lambda: browser.find_element(By.XPATH, item), what="the menu's item"))
        eventually(lambda: browser.current_url.endswith("/accounts"), what="the accounts page")
    finally:
        browser.quit()


async def test_at_a_phones_width_every_step_of_the_wizard_fits(web) -> None:
    browser = chromium(language="ru-RU", width=390)

    def fits(where: str) -> None:
        time.sleep(0.5)  # the step's animation
        overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, (where, overflow)

    try:
        await Account.create(name="Продажи", transport="sandbox")
        await sign_in_in_russian(browser, web)
        await asyncio.to_thread(browser.get, f"{web}/contracts/new")
        click(browser, select(browser, "Аккаунты"))
        click(browser, text_shown(browser, "Продажи · подключён"))
        browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
        click(browser, button(browser, "Далее"))
        text_shown(browser, "Вставить")
        fits("recipients")
        click(browser, text_shown(browser, "Вставить"))
        field(browser, "Строки").send_keys("телефон,имя\n79990000001,Анна")
        click(browser, button(browser, "Использовать эти строки"))
        text_shown(browser, "1 строка · столбцы: телефон, имя")
        click(browser, button(browser, "Далее"))
        field(browser, "Сообщение").send_keys("Здравствуйте, {имя}!")
        fits("message")
        click(browser, button(browser, "Проверить получателей"))
        text_shown(browser, "Все строки в порядке.")
        fits("check")
        click(browser, button(browser, "Далее"))
        text_shown(browser, "Создать без запуска")
        fits("start")
    finally:
        browser.quit()


CHART_FIGURES = """
const chart = getElement(document.querySelector('.nicegui-echart'))?.chart;
if (!chart || !chart.getOption()?.series?.[0]?.data?.length) return null;
const axis = chart.getModel().getComponent('yAxis').axis.getViewLabels().map((l) => l.formattedLabel);
chart.dispatchAction({type: 'showTip', seriesIndex: 0, dataIndex: 0});
return {axis, tooltip: document.querySelector('.nicegui-echart').innerText};
"""


async def test_the_contract_page_writes_its_figures_the_russian_way(web, russian_browser) -> None:
    """The tiles, and what the browser draws itself: the chart's axis and its tooltip (2 100, not
    ECharts' own 2,100)."""
    browser = russian_browser
    account = await Account.create(name="Продажи", transport="sandbox")
    made = await contracts.create_contract(account.id, "Ноябрь", ["79990000001"], ["Привет"])
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    await SendMinute.create(contract_id=made.contract.id, account_id=account.id, minute=minute, sent=2100)
    await sign_in_in_russian(browser, web)
    await asyncio.to_thread(browser.get, f"{web}/contracts/{made.contract.id}")
    text_shown(browser, "Ноябрь")

    def figures() -> dict | None:
        shown = browser.execute_script(CHART_FIGURES)
        return shown if shown and "2" in shown["tooltip"] else None

    shown = eventually(figures, what="the chart's axis and tooltip")
    grouped = re.compile(r"\d[\u00a0\u202f ]\d{3}")
    assert any(grouped.fullmatch(label) for label in shown["axis"]), shown["axis"]
    assert grouped.search(shown["tooltip"]), shown["tooltip"]
    assert not re.search(r"\d,\d{3}", " ".join(shown["axis"]) + shown["tooltip"]), shown
