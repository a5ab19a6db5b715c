"""The dashboard in Russian and English: every text of the code translated, every page shown in
Russian without an English word left, the language taken from the browser and remembered for the
user, times in the user's zone, status chips readable."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from nicegui import ui
from nicegui.testing import User
from tortoise.transactions import in_transaction

from models import Account, AccountStatus, Recipient, RecipientStatus, SendMinute
from services import accounts, audiences, contracts, team, users
from services.recipient_files import wizard_table
from tests.echo_transport import TRANSPORT as ECHO
from tests.helpers import phone, sign_in_page
from texts import say
from ui import i18n
from ui.frame import STATUS_COLORS
from ui.i18n import LOCALES

KEYWORDS = {"_": None, "N_": None, "say": None, "ngettext": (1, 2)}
# Latin words a Russian page may show: names of products, formats and zones, and the command to run.
PROPER = {"wa", "contracts", "api", "whatsapp", "csv", "xlsx", "excel", "utf", "windows", "english", "utc"}
PROPER |= {"python", "cli", "py", "worker", "europe", "moscow"}
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def extracted() -> set[str | tuple[str, str]]:
    """Every text the code marks for translation, as pybabel extracts it (scripts/translations)."""
    found: set[str | tuple[str, str]] = set()
    for where in ("ui", "services", "wa"):
        for _file, _line, message, _comments, _context in extract_from_dir(
            where, method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            found.add(message)
    return found


def test_every_text_of_the_code_has_a_russian_translation_with_the_same_placeholders() -> None:
    with open(LOCALES / "ru" / "LC_MESSAGES" / "messages.po", "rb") as po:
        catalogue = {m.id: m for m in read_po(po, locale="ru") if m.id}
    missing = sorted(str(m) for m in extracted() if m not in catalogue)
    assert not missing, f"run scripts/translations and translate: {missing}"
    for message in catalogue.values():
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings) and "fuzzy" not in message.flags, f"not translated: {message.id!r}"
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for string in strings:
            assert set(PLACEHOLDER.findall(string)) == wanted, f"placeholders differ: {message.id!r}"


def shown_texts(user: User) -> set[str]:
    """What the page shows or reads out: texts, labels, placeholders, options, column names, names
    of icon buttons (the time-zone list is left out: zone names are names)."""
    out: set[str] = set()
    for element in user.client.elements.values():
        if "time-zone" in element._markers:
            continue
        text = getattr(element, "text", None)
        if isinstance(text, str):
            out.add(text)
        if isinstance(element, ui.markdown):
            out.add(element.content)
        for prop in ("label", "placeholder", "aria-label", "title"):
            if isinstance(element.props.get(prop), str):
                out.add(element.props[prop])
        if isinstance(element, ui.table):
            out |= {column["label"] for column in element.columns}
        if isinstance(element, ui.select | ui.toggle | ui.radio):
            options = element.options
            out |= set(map(str, options.values() if isinstance(options, dict) else options))
    out.discard(ECHO.label)  # the test suite's own transport, not the product's
    return out


def english_left(user: User) -> set[str]:
    return {t for t in shown_texts(user) if any(w.lower() not in PROPER for w in LATIN_WORD.findall(t))}


@pytest.fixture
async def russian(user: User, db, broker_started) -> User:
    """Signed in as a user who chose Russian."""
    await users.create_first_user("анна", "correct horse")
    await users.choose("анна", language="ru")
    user.http_client.headers["Accept-Language"] = "ru-RU,ru;q=0.9"  # the sign-in page: the browser's
    await sign_in_page(user, "анна", "correct horse", ("Имя пользователя", "Пароль", "Войти"))
    return user


async def test_every_page_in_russian_shows_no_english_word(russian: User) -> None:
    user = russian
    sandbox = await accounts.create_account("Песочница", "sandbox")
    waiting = await accounts.create_account("Телефон отдела", "whatsapp")
    made = await contracts.create_contract(
        sandbox.id, "Ноябрь", ["79990000001", "79990000002"], ["Привет"] * 2
    )
    contract = made.contract.id
    await contracts.start_contract(contract)
    invitation = await team.invite("анна", users.OPERATOR)
    table = wizard_table.from_csv_text("телефон,имя\n79990000001,Анна\n")
    await audiences.save(
        await audiences.keep_upload("анна", "клиенты.csv", table), "Клиенты", ["ВИП"], "анна"
    )
    pages = [
        "/",
        "/accounts",
        f"/accounts/{waiting.id}/pair",
        "/contracts/new",
        f"/contracts/{contract}",
        "/team",
        "/audiences",
    ]
    for path in pages:
        await user.open(path)
        await user.should_see(marker="preferences")
        assert not english_left(user), (path, english_left(user))
    for path in (f"/invite/{invitation}", "/invite/used-up"):
        await user.open(path)
        await user.should_see(marker="language")
        assert not english_left(user), (path, english_left(user))


async def test_the_sign_in_page_speaks_the_browsers_language(user: User, db) -> None:
    user.http_client.headers["Accept-Language"] = "ru-RU,ru;q=0.9,en-US;q=0.8"
    client = await user.open("/login")
    await user.should_see("Создайте первого пользователя этой установки.")
    assert client.page.language == "ru", "<html lang> names the language"
    assert not english_left(user)
    user.http_client.headers["Accept-Language"] = "de-DE,en;q=0.5"
    client = await user.open("/login")
    await user.should_see("Create the first user of this installation.")
    assert client.page.language == "en-US"


def test_the_language_is_the_saved_choice_then_the_browsers_cookie_then_what_it_asks_for() -> None:
    assert i18n.negotiate("ru", "en", "en-US") == "ru"
    assert i18n.negotiate(None, "ru", "en-US") == "ru"
    assert i18n.negotiate(None, None, "fr-FR, ru;q=0.8, en;q=0.9") == "en", "by weight"
    assert i18n.negotiate(None, "xx", "de, ru;q=0.1") == "ru"
    assert i18n.negotiate(None, None, "de;q=bad, ja") == "en"
    assert i18n.negotiate(None, None, "en; q=0.5, ru-RU; q=0.9") == "ru", "spaces before q"


async def test_the_users_choice_of_language_and_zone_is_remembered_and_times_shown_in_it(
    russian: User,
) -> None:
    user = russian
    await users.choose("анна", time_zone="Asia/Vladivostok")
    account = await accounts.create_account("Песочница", "sandbox")
    made = await contracts.create_contract(account.id, "Ноябрь", ["79990000001"], ["Привет"])
    at = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    await Recipient.filter(contract_id=made.contract.id).update(status=RecipientStatus.SENT, sent_at=at)
    await user.open(f"/contracts/{made.contract.id}")
    await user.should_see("Ноябрь")
    (table,) = [t for t in user.find(ui.table).elements if any(c["name"] == "phone" for c in t.columns)]
    for _ in range(50):  # the first page of recipients is read as the page connects
        if table.rows:
            break
        await asyncio.sleep(0.1)
    assert [c["label"] for c in table.columns if c["name"] == "when"] == ["Отправлено (Asia/Vladivostok)"]
    assert [r["when"] for r in table.rows] == ["28.11.2026, 22:00"], "noon UTC is 22:00 in Vladivostok"
    with pytest.raises(Exception, match="no such language"):
        await users.choose("анна", language="klingon")


def relative_luminance(hex_colour: str) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def test_status_chips_have_white_text_at_wcag_aa_contrast() -> None:
    for status, colour in STATUS_COLORS.items():
        ratio = (1.0 + 0.05) / (relative_luminance(colour) + 0.05)
        assert ratio >= 4.5, (status, colour, round(ratio, 2))


async def test_a_page_that_does_not_exist_says_so_in_the_visitors_language_with_the_way_home(
    user: User,
) -> None:
    r = await user.http_client.get("/no/such/page", headers={"Accept-Language": "ru", "Accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert "Страница не найдена" in r.text and '<a href="/">' in r.text and 'lang="ru"' in r.text
    r = await user.http_client.get("/no/such/page")
    assert r.status_code == 404 and "Page not found" in r.text


def test_a_reason_stored_as_english_is_shown_in_the_pages_language_and_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Reasons are stored as the API sends them, in English; the dashboard reads them back into their
    templates, times in the user's zone, a reason inside a reason translated too."""
    monkeypatch.setattr(i18n, "language", lambda: "ru")
    monkeypatch.setattr(i18n, "zone", lambda: ZoneInfo("Europe/Moscow"))
    until, since = datetime(2026, 11, 29, 13, 5, tzinfo=UTC), datetime(2026, 11, 29, 12, 4, tzinfo=UTC)
    figures = say(
        "{n} {what} since {since:time} (≥ {limit})", n=5, what=say("transient errors"), since=since, limit=5
    )
    stored = str(say("paused by health rule until {until:time}: {reason}", until=until, reason=figures))
    assert stored == "paused by health rule until 13:05 UTC: 5 transient errors since 12:04 UTC (≥ 5)"
    assert i18n.stored(stored) == "пауза по правилу здоровья до 16:05: временные ошибки: 5 с 15:04 (≥ 5)"
    deadline = str(say("deadline {deadline} passed with {unsent:,} not sent", deadline=until, unsent=1200))
    assert deadline == "deadline 2026-11-29 13:05 UTC passed with 1,200 not sent", "the API's English"
    assert i18n.stored(deadline) == f"срок 29.11.2026, 16:05 прошёл, не отправлено: {i18n.number(1200)}"
    for unknown in ("the network said: 401 Unauthorized", "x" * 5000, ""):
        assert i18n.stored(unknown) == unknown


@pytest.mark.parametrize(
    ("language", "spans"),
    [
        ("en", ["1 d 17 h", "17 h 5 min", "3 min", "1 d", "45 s", "3 d"]),
        ("ru", ["1 д 17 ч", "17 ч 5 мин", "3 мин", "1 д", "45 с", "3 д"]),
    ],
)
def test_a_duration_is_its_two_largest_units_in_words_of_the_pages_language(
    monkeypatch: pytest.MonkeyPatch, language: str, spans: list[str]
) -> None:
    monkeypatch.setattr(i18n, "language", lambda: language)
    seconds = [86400 + 16 * 3600 + 48 * 60 + 35, 17 * 3600 + 5 * 60 + 3, 180, 86400 - 10, 45, 3 * 86400]
    assert [i18n.duration(s) for s in seconds] == spans, "the smaller unit rounded; 23:59:50 is 1 d"


# What an English number or span looks like on a Russian page: 2,100; 1 day, 16:48:35; 18:39:44.
ENGLISH_FIGURES = re.compile(r"\d,\d{3}|\bdays?\b|\d:\d\d:\d\d")


def ru_number(n: int) -> str:
    return format_decimal(n, locale="ru")


def page_text(user: User) -> str:
    """Everything the page shows, with its tables' cells."""
    tables = [e for e in user.client.elements.values() if isinstance(e, ui.table)]
    cells = [str(v) for t in tables for row in t.rows for v in row.values()]
    return "\n".join([*shown_texts(user), *cells])


async def test_numbers_and_time_left_on_russian_pages_are_written_the_russian_way(russian: User) -> None:
    """A contract of 2,100 recipients, 1,975 sent, 1,910 of them today on an account capped at 2,000
    a day: more than a day left. Tiles, tables, the account's line and the time left say so as
    Russian writes it (1 975, 1 д 17 ч), and the account's simulated ban is said in Russian too."""
    user = russian
    account = await Account.create(name="Песочница", transport="sandbox", warmup_plan=[2000])
    made = await contracts.create_contract(
        account.id, "Ноябрь", [phone(i) for i in range(2100)], ["Привет"] * 2100
    )
    contract = made.contract.id
    async with in_transaction() as conn:
        sent = await Recipient.filter(contract_id=contract, position__lt=1975).values_list("id", flat=True)
        await Recipient.change_status(contract, RecipientStatus.PENDING, RecipientStatus.SENT, conn, ids=sent)
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    await SendMinute.create(contract_id=contract, account_id=account.id, minute=minute, sent=1910, failed=0)
    await contracts.start_contract(contract)
    banned = await Account.create(name="Забаненный", transport="sandbox", status=AccountStatus.BANNED)
    await Account.filter(id=banned.id).update(status_reason=str(say("banned by WhatsApp (simulated)")))

    await user.open(f"/contracts/{contract}")
    await user.should_see("Ноябрь")
    (time_left,) = [e for e in user.client.elements.values() if e.props.get("data-card") == "time-left"]
    for _ in range(30):
        if time_left.text not in ("0", "—"):
            break
        await asyncio.sleep(0.1)
    assert re.fullmatch(r"\d+ (д|ч|мин|с)( \d+ (ч|мин|с))?", time_left.text), time_left.text
    text = page_text(user)
    assert ru_number(1975) in text and not re.search(r"\b1975\b", text)
    assert not ENGLISH_FIGURES.findall(text), ENGLISH_FIGURES.findall(text)

    await user.open("/accounts")
    await user.should_see("Песочница")
    text = page_text(user)
    assert f"сегодня отправлено {ru_number(1910)} из {ru_number(2000)} (осталось 90)" in text
    assert "заблокирован в WhatsApp (имитация)" in text, text
    assert not re.search(r"\b1910\b", text) and not ENGLISH_FIGURES.findall(text)
    assert not english_left(user), english_left(user)

    await user.open("/")
    await user.should_see("Ноябрь")
    text = page_text(user)
    assert f"{ru_number(1975)} / {ru_number(2100)}" in text
    assert not ENGLISH_FIGURES.findall(text)


def test_the_hint_for_an_empty_message_shows_a_real_column_in_russian(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(i18n, "language", lambda: "ru")
    table = wizard_table.from_csv_text("телефон,имя\n79990000001,Анна\n")
    hint = i18n.tr(wizard_table.template_fault(table, "  "))
    assert "{имя}" in hint and "{column}" not in hint and not LATIN_WORD.findall(hint), hint


def test_sandbox_and_send_errors_stored_in_english_are_shown_in_russian(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the sandbox and a send say is kept in English (the API's); the page says it in Russian,
    a phone number in it as it is."""
    from wa.sender import NotOnWhatsApp

    monkeypatch.setattr(i18n, "language", lambda: "ru")
    assert i18n.stored("banned by WhatsApp (simulated)") == "заблокирован в WhatsApp (имитация)"
    assert (
        i18n.stored("rate-limited by WhatsApp (simulated)")
        == "WhatsApp ограничил скорость отправки (имитация)"
    )
    assert i18n.stored("Invalid number") == "Неверный номер"
    assert i18n.stored(str(NotOnWhatsApp("79990000001"))) == "у номера 79990000001 нет WhatsApp"
