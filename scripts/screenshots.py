"""Screenshots of every dashboard page, in English and in Russian, taken from the real pages in
headless Chromium.

    .venv/bin/python scripts/screenshots.py [en|ru]     # writes docs/screenshots/{en,ru}/*.png

For each language (in a process of its own: one stack a process) it starts a private stack (SQLite,
embedded Redis, the web process and a worker), fills it with a few sandbox accounts and contracts,
one of them sending while the pictures are taken, and signs in with a browser asking for that
language (in Moscow's time zone).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"

# What each language's pages say where the script clicks or waits, and the data it shows.
TEXTS = {
    "en": {
        "browser": "en-US",
        "sign in with the key": "Sign in with the API key",
        "username": "Username",
        "password": "Password",
        "sign in": "Sign in",
        "overview shown": "contracts waiting",
        "per minute": "per minute",
        "add account": "Add account",
        "name": "Name",
        "sandbox": "Sandbox (simulated, for trying)",
        "add and pair": "Add and pair",
        "pairing help": "pairs like a phone would",
        "accounts": "Accounts",
        "connected": "connected",
        "next": "Next",
        "paste": "Paste",
        "use rows": "Use these rows",
        "message": "Message",
        "check": "Check the recipients",
        "invalid": "Invalid numbers: 1",
        "data": ("Sales team", "Support line", "New phone", "Trial", "October newsletter", "Black Friday"),
        "draft": "December draft",
        "rows": [
            "phone,name",
            "+7 999 000-00-01,Anna",
            "+7 999 000-00-02,Boris",
            "12345,Typo",
            "79990000001,Anna",
        ],
        "template": "Hello {name}, 30% off today only!",
        "preview": "Hello Boris, 30% off today only!",
        "texts": ("See you soon!", "Hello customer {i}, 30% off everything today!"),
        "audiences": (("Regular clients", ["vip", "Moscow"]), ("November leads", ["leads"])),
        "operator": "boris",
        "team shown": "Open invitations",
        "invite shown": "Join and sign in",
    },
    "ru": {
        "browser": "ru-RU",
        "sign in with the key": "Войти по API-ключу",
        "username": "Имя пользователя",
        "password": "Пароль",
        "sign in": "Войти",
        "overview shown": "контрактов ждут",
        "per minute": "в минуту",
        "add account": "Добавить аккаунт",
        "name": "Название",
        "sandbox": "Песочница (имитация, для пробы)",
        "add and pair": "Добавить и привязать",
        "pairing help": "привязывается так же, как телефон",
        "accounts": "Аккаунты",
        "connected": "подключён",
        "next": "Далее",
        "paste": "Вставить",
        "use rows": "Использовать эти строки",
        "message": "Сообщение",
        "check": "Проверить получателей",
        "invalid": "Неверные номера: 1",
        "data": (
            "Отдел продаж",
            "Поддержка",
            "Новый телефон",
            "Проба",
            "Октябрьская рассылка",
            "Чёрная пятница",
        ),
        "draft": "Черновик декабря",
        "rows": [
            "телефон,имя",
            "+7 999 000-00-01,Анна",
            "+7 999 000-00-02,Борис",
            "12345,Опечатка",
            "79990000001,Анна",
        ],
        "template": "Здравствуйте, {имя}! Только сегодня скидка 30 %",
        "preview": "Здравствуйте, Борис! Только сегодня скидка 30 %",
        "texts": ("До встречи!", "Здравствуйте, покупатель {i}! Сегодня всё со скидкой 30 %"),
        "audiences": (("Постоянные клиенты", ["вип", "Москва"]), ("Лиды ноября", ["лиды"])),
        "operator": "борис",
        "team shown": "Открытые приглашения",
        "invite shown": "Присоединиться и войти",
    },
}


def main() -> None:
    if len(sys.argv) > 1:
        asyncio.run(pictures(sys.argv[1]))
        return
    for language in TEXTS:
        subprocess.run([sys.executable, __file__, language], check=True)
    print(f"screenshots written to {OUT}")


async def pictures(language: str) -> None:
    sys.path.insert(0, str(ROOT))
    from bench.harness import Stack

    stack = Stack("sqlite", "embedded")  # before anything reads the settings: it sets the environment
    from cli import WORKER
    from models import Account
    from services import audiences, contracts, team, users
    from services.recipient_files import wizard_table
    from tests.browser import chromium
    from tests.helpers import phone

    t = TEXTS[language]
    out = OUT / language
    out.mkdir(parents=True, exist_ok=True)
    sales_name, support_name, new_name, _, done_name, live_name = t["data"]
    async with stack:
        web = stack.web()
        stack.start(WORKER)
        await users.create_first_user("anna", "correct horse")
        await team.join(await team.invite("anna", users.OPERATOR), t["operator"], "correct horse")
        invitation = await team.invite("anna", users.OPERATOR)
        table = wizard_table.from_csv_text("\n".join(t["rows"]))
        for name, tags in t["audiences"]:
            await audiences.save(
                await audiences.keep_upload("anna", "clients.csv", table), name, tags, "anna"
            )
        sales = await Account.create(name=sales_name, use_limits=False, sandbox_config={"latency_s": 0.4})
        support = await Account.create(name=support_name, use_limits=True)
        await Account.create(name=new_name, transport="whatsapp", status="PAIRING", use_limits=True)
        finished, running = t["texts"]
        await contracts.create_contract(support.id, done_name, [phone(i) for i in range(40)], [finished] * 40)
        live = await contracts.create_contract(
            sales.id,
            live_name,
            [phone(100 + i) for i in range(400)],
            [running.format(i=i) for i in range(400)],
        )
        await contracts.create_contract(sales.id, t["draft"], [phone(900)], [t["draft"]])
        await contracts.start_contract(live.contract.id)
        browser = chromium(language=t["browser"], zone="Europe/Moscow")
        try:
            await asyncio.to_thread(walk, browser, web, t, out, live.contract.id)
            await asyncio.to_thread(team_pages, browser, web, t, out, invitation)
        finally:
            browser.quit()


def walk(browser, web: str, t: dict, out: Path, live_id: str) -> None:
    from tests.browser import _shown, button, eventually, field, select, text_shown

    browser.get(f"{web}/login")
    text_shown(browser, t["sign in with the key"])
    shot(browser, out, "login")
    field(browser, t["username"]).send_keys("anna")
    field(browser, t["password"]).send_keys("correct horse")
    press(browser, button(browser, t["sign in"]))
    text_shown(browser, t["overview shown"])
    time.sleep(2)
    shot(browser, out, "overview")
    browser.get(f"{web}/contracts/{live_id}")
    text_shown(browser, t["per minute"])
    time.sleep(8)  # some sends on the chart
    shot(browser, out, "contract")
    browser.get(f"{web}/accounts")
    text_shown(browser, t["data"][0])
    shot(browser, out, "accounts")
    press(browser, button(browser, t["add account"]))
    field(browser, t["name"]).send_keys(t["data"][3])
    radio = f"//div[contains(@class, 'q-radio')][normalize-space()='{t['sandbox']}']"
    in_dialog = f"//div[contains(@class, 'q-dialog')]{radio}"
    press(browser, browser.find_element("xpath", in_dialog))
    press(browser, button(browser, t["add and pair"]))
    text_shown(browser, t["pairing help"])
    time.sleep(1.5)
    shot(browser, out, "pairing")
    browser.get(f"{web}/contracts/new")
    press(browser, select(browser, t["accounts"]))
    press(browser, text_shown(browser, f"{t['data'][0]} · {t['connected']}"))
    browser.find_element("tag name", "body").send_keys("\ue00c")  # Escape: a multiple select stays open
    press(browser, button(browser, t["next"]))
    press(browser, text_shown(browser, t["paste"]))
    area = eventually(lambda: _shown(browser.find_elements("css selector", "textarea")), what="the text area")
    area.send_keys("\n".join(t["rows"]))
    press(browser, button(browser, t["use rows"]))
    press(browser, button(browser, t["next"]))
    field(browser, t["message"]).send_keys(t["template"])
    text_shown(browser, t["preview"])
    shot(browser, out, "wizard-message")
    press(browser, button(browser, t["check"]))
    press(browser, text_shown(browser, t["invalid"]))
    time.sleep(0.5)
    shot(browser, out, "wizard-check")
    browser.get(f"{web}/no/such/page")
    shot(browser, out, "not-found")
    browser.set_window_size(390, 844)
    browser.get(f"{web}/")
    text_shown(browser, t["overview shown"])
    time.sleep(1)
    browser.save_screenshot(str(out / "overview-phone.png"))
    browser.set_window_size(1400, 1000)


def team_pages(browser, web: str, t: dict, out: Path, invitation: str) -> None:
    from tests.browser import text_shown

    browser.get(f"{web}/audiences")
    text_shown(browser, t["audiences"][0][0])
    shot(browser, out, "audiences")
    browser.get(f"{web}/team")
    text_shown(browser, t["team shown"])
    shot(browser, out, "team")
    browser.get(f"{web}/invite/{invitation}")
    text_shown(browser, t["invite shown"])
    shot(browser, out, "invite")


def press(browser, element) -> None:
    """Click as a script does: a pop-up's animation may still cover the element for a real click."""
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'}); arguments[0].click();", element)


def shot(browser, out: Path, name: str) -> None:
    height = browser.execute_script("return document.body.scrollHeight")
    browser.set_window_size(1400, max(900, min(height + 40, 2400)))
    browser.save_screenshot(str(out / f"{name}.png"))
    browser.set_window_size(1400, 1000)


if __name__ == "__main__":
    main()
