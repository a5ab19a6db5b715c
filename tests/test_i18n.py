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
from nicegui import ui
from nicegui.testing import User

from models import Recipient, RecipientStatus
from services import accounts, audiences, contracts, team, users
from services.recipient_files import wizard_table
from tests.echo_transport import TRANSPORT as ECHO
from tests.helpers import sign_in_page
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
