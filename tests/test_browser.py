"""The dashboard in a real browser (Debian's headless Chromium) against the real web process and a real
worker: the wizard from a CSV file to a running contract whose page follows the sending, the QR pairing
of a sandbox account, and hostile names and messages shown as text."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from models import Account, AccountStatus, Contract, ContractStatus
from services import users
from tests.browser import button, chromium, click, eventually, field, select, text_shown
from tests.browser import sign_in as signed_in_as
from tests.helpers import phone

PASSWORD = "correct horse"


@pytest.fixture
def browser() -> Iterator:
    b = chromium()
    yield b
    b.quit()


async def sign_in(browser, web: str) -> None:
    await users.create_first_user("anna", PASSWORD)
    await asyncio.to_thread(signed_in_as, browser, web, "anna", PASSWORD)


def card_value(browser, name: str) -> int:
    return int(browser.find_element(By.CSS_SELECTOR, f"[data-card={name}]").text.replace(",", ""))


async def test_the_wizard_from_a_csv_file_to_a_contract_whose_page_follows_the_sending(
    web, browser, processes, tmp_path: Path
) -> None:
    processes("worker")
    await Account.create(name="Sales", use_limits=False, sandbox_config={"latency_s": 0.03})
    csv_file = tmp_path / "customers.csv"
    lines = ["phone,name"] + [f"+{phone(i)},Customer {i}" for i in range(150)] + ["not-a-number,Nobody"]
    csv_file.write_text("\n".join(lines) + "\n")
    await sign_in(browser, web)

    await asyncio.to_thread(browser.get, f"{web}/contracts/new")
    click(browser, select(browser, "Accounts"))
    click(browser, text_shown(browser, "Sales · connected"))
    browser.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)  # a multiple select stays open
    click(browser, button(browser, "Next"))
    upload = eventually(lambda: browser.find_element(By.CSS_SELECTOR, "input[type=file]"), what="the upload")
    upload.send_keys(str(csv_file))
    text_shown(browser, "151 rows · columns: phone, name")
    click(browser, button(browser, "Next"))
    message = field(browser, "Message")
    message.send_keys("Hello {name}, our sale starts today!")
    text_shown(browser, "Hello Customer 0, our sale starts today!")  # the live preview
    click(browser, button(browser, "Check the recipients"))
    text_shown(browser, "Invalid numbers: 1")
    text_shown(browser, "Leave this 1 row out")
    click(browser, button(browser, "Next"))
    field(browser, "Contract name").send_keys("Autumn sale")
    click(browser, button(browser, "Create contract"))
    eventually(lambda: "/contracts/contract_" in browser.current_url, what="the contract's page")
    seen = [card_value(browser, "sent")]
    for _ in range(100):
        await asyncio.sleep(0.3)
        seen.append(card_value(browser, "sent"))
        if seen[-1] == 150:
            break
    assert seen[-1] == 150, f"the page followed the sending to the end: {seen}"
    assert len({v for v in seen if 0 < v < 150}) >= 2, (
        f"progress was shown on the way, not only at the end: {seen}"
    )
    text_shown(browser, "completed")
    contract = await Contract.get(name="Autumn sale")
    assert contract.status == ContractStatus.COMPLETED


async def test_a_sandbox_account_pairs_by_opening_its_qr_link(web, browser) -> None:
    await sign_in(browser, web)
    await asyncio.to_thread(browser.get, f"{web}/accounts")
    click(browser, button(browser, "Add account"))
    field(browser, "Name").send_keys("Trial phone")
    click(browser, text_shown(browser, "Sandbox (simulated, for trying)"))
    click(browser, button(browser, "Add and pair"))
    image = eventually(
        lambda: [
            i
            for i in browser.find_elements(By.CSS_SELECTOR, "img")
            if "data:image/png" in (i.get_attribute("src") or "")
        ],
        what="the QR code",
    )[0]
    assert image.is_displayed()
    link = eventually(lambda: browser.find_element(By.PARTIAL_LINK_TEXT, "/sandbox/pair/")).get_attribute(
        "href"
    )
    account = await Account.get(name="Trial phone")
    assert account.status == AccountStatus.PAIRING and link == account.qr_code

    pairing_tab = browser.current_window_handle
    browser.switch_to.new_window("tab")  # the phone opens the link
    await asyncio.to_thread(browser.get, link)
    text_shown(browser, "Trial phone is paired")
    browser.close()
    browser.switch_to.window(pairing_tab)
    eventually(lambda: browser.current_url.endswith("/accounts"), what="the pairing page moving on by itself")
    text_shown(browser, "connected")
    assert (await Account.get(id=account.id)).status == AccountStatus.CONNECTED


async def test_markup_in_names_and_messages_is_shown_as_text(web, browser) -> None:
    account = await Account.create(name="<img src=x onerror=window.pwned=1>")
    from services.contracts import create_contract

    created = await create_contract(
        account.id, "<script>window.pwned=2</script>Promo", [phone(1)], ['<b onclick="window.pwned=3">Hi</b>']
    )
    await sign_in(browser, web)
    await asyncio.to_thread(browser.get, f"{web}/contracts/{created.contract.id}")
    text_shown(browser, "<script>window.pwned=2</script>Promo")
    click(browser, text_shown(browser, "All"))
    click(browser, text_shown(browser, '<b onclick="window.pwned=3">Hi</b>'))
    await asyncio.to_thread(browser.get, f"{web}/accounts")
    text_shown(browser, "<img src=x onerror=window.pwned=1>")
    assert browser.execute_script("return window.pwned") is None, "no markup of ours ran"
