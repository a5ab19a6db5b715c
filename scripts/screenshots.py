"""Screenshots of every dashboard page, taken from the real pages in headless Chromium.

    .venv/bin/python scripts/screenshots.py      # writes docs/screenshots/*.png

It starts a private stack (SQLite, embedded Redis, the web process and a worker), fills it with a few
sandbox accounts and contracts, one of them sending while the pictures are taken, and signs in.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"


async def main() -> None:
    sys.path.insert(0, str(ROOT))
    from bench.harness import Stack

    stack = Stack("sqlite", "embedded")  # before anything reads the settings: it sets the environment
    from cli import WORKER
    from models import Account
    from services import contracts, users
    from tests.browser import button, chromium, click, field, select, text_shown
    from tests.helpers import phone

    OUT.mkdir(parents=True, exist_ok=True)
    async with stack:
        web = stack.web()
        stack.start(WORKER)
        await users.create_first_user("anna", "correct horse")
        sales = await Account.create(name="Sales team", use_limits=False, sandbox_config={"latency_s": 0.4})
        support = await Account.create(name="Support line", use_limits=True)
        await Account.create(name="New phone", transport="whatsapp", status="PAIRING", use_limits=True)
        done = await contracts.create_contract(
            support.id, "October newsletter", [phone(i) for i in range(40)], ["See you soon!"] * 40
        )
        live = await contracts.create_contract(
            sales.id,
            "Black Friday",
            [phone(100 + i) for i in range(400)],
            [f"Hello customer {i}, 30% off everything today!" for i in range(400)],
        )
        await contracts.create_contract(sales.id, "December draft", [phone(900)], ["Draft"])
        await contracts.start_contract(live.contract.id)
        del done

        browser = chromium()
        try:
            browser.get(f"{web}/login")
            text_shown(browser, "Sign in with the API key")
            shot(browser, "login")
            field(browser, "Username").send_keys("anna")
            field(browser, "Password").send_keys("correct horse")
            click(browser, button(browser, "Sign in"))
            text_shown(browser, "contracts waiting")
            time.sleep(2)
            shot(browser, "overview")
            browser.get(f"{web}/contracts/{live.contract.id}")
            text_shown(browser, "per minute")
            time.sleep(8)  # some sends on the chart
            shot(browser, "contract")
            browser.get(f"{web}/accounts")
            text_shown(browser, "Sales team")
            shot(browser, "accounts")
            click(browser, button(browser, "Add account"))
            field(browser, "Name").send_keys("Trial")
            click(browser, text_shown(browser, "Sandbox (simulated, for trying)"))
            click(browser, button(browser, "Add and pair"))
            text_shown(browser, "pairs like a phone would")
            time.sleep(1.5)
            shot(browser, "pairing")
            browser.get(f"{web}/contracts/new")
            click(browser, select(browser, "Account"))
            click(browser, text_shown(browser, "Sales team · sandbox · connected"))
            click(browser, button(browser, "Next"))
            click(browser, text_shown(browser, "Paste"))
            rows = [
                "phone,name",
                "+7 999 000-00-01,Anna",
                "+7 999 000-00-02,Boris",
                "12345,Typo",
                "79990000001,Anna",
            ]
            area = browser.find_element("css selector", "textarea")
            area.send_keys("\n".join(rows))
            click(browser, button(browser, "Use these rows"))
            click(browser, button(browser, "Next"))
            field(browser, "Message").send_keys("Hello {name}, 30% off today only!")
            text_shown(browser, "Hello Boris, 30% off today only!")
            shot(browser, "wizard-message")
            click(browser, button(browser, "Check the recipients"))
            text_shown(browser, "Invalid numbers: 1")
            click(browser, text_shown(browser, "Invalid numbers: 1"))
            time.sleep(0.5)
            shot(browser, "wizard-check")
        finally:
            browser.quit()
    print(f"screenshots written to {OUT}")


def shot(browser, name: str) -> None:
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1400, max(900, min(height + 40, 2400)))
    browser.save_screenshot(str(OUT / f"{name}.png"))
    browser.set_window_size(1400, 1000)


if __name__ == "__main__":
    asyncio.run(main())
