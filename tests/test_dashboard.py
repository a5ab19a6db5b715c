"""The dashboard's page logic, through NiceGUI's simulated user (no browser): sign-in, accounts and
pairing, the new-contract wizard, a contract's page."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from datetime import UTC, datetime, timedelta

import pytest
from nicegui import ui
from nicegui.testing import User
from tortoise.transactions import in_transaction

from models import (
    Account,
    AccountStatus,
    Contract,
    ContractStatus,
    PoolMember,
    Recipient,
    RecipientStatus,
    SendMinute,
)
from services import accounts, contracts, users, wizard_drafts
from services.errors import Conflict
from tests.conftest import API_KEY
from tests.helpers import phone, sign_in_page, until


async def recipient_rows(user: User, expected: int) -> list[dict]:
    """The recipients table's rows once it holds `expected` of them (it loads in the background)."""
    for _ in range(50):
        (table,) = [t for t in user.find(ui.table).elements if any(c["name"] == "phone" for c in t.columns)]
        if len(table.rows) == expected:
            return table.rows
        await asyncio.sleep(0.05)
    raise AssertionError(f"the table shows {len(table.rows)} rows, not {expected}")


def table_text(table: ui.table) -> str:
    return " ".join(str(v) for row in table.rows for v in row.values())


async def wizard_accounts(user: User, *labels: str) -> None:
    """Open the wizard and choose these accounts (as the select shows them)."""
    await user.open("/contracts/new")
    user.find(marker="accounts").click()
    for label in labels:
        user.find(label).click()


async def wizard_rows(user: User, lines: list[str], loaded: str) -> None:
    """Leave the accounts step, paste these lines as the recipients, and go on to the message."""
    user.find("Next").click()
    user.find("Paste").click()
    user.find(ui.textarea).type("\n".join(lines))
    user.find("Use these rows").click()
    await user.should_see(loaded, retries=50)
    user.find("Next").click()


@pytest.fixture
async def signed_in(user: User, db, broker_started) -> User:
    await users.create_first_user("anna", "correct horse")
    await sign_in_page(user, "anna", "correct horse")
    return user


async def test_pages_need_sign_in_and_a_fresh_install_creates_its_first_user(user: User, db) -> None:
    await user.open("/accounts")
    await user.should_see("Create the first user of this installation.")
    user.find("Setup code").type(API_KEY)
    user.find("Username").type("anna")
    user.find("Password").type("short")
    user.find("Create user and sign in").click()
    await user.should_see("8 to 1,000 characters")
    user.find("Password").clear().type("correct horse")
    user.find("Create user and sign in").click()
    # back where it was going (the password is hashed in a thread: give it time)
    await user.should_see("Linked WhatsApp accounts and sandbox accounts", retries=50)
    assert await users.authenticate("anna", "correct horse")


async def test_a_wrong_password_is_refused_and_the_api_key_signs_in(user: User, db) -> None:
    await users.create_first_user("anna", "correct horse")
    await user.open("/")
    user.find("Username").type("anna")
    user.find("Password").type("wrong horse")
    user.find("Sign in").click()
    await user.should_see("wrong username or password", retries=50)
    user.find(marker="api-key").type(API_KEY)
    user.find("Sign in with the key").click()
    await user.should_see("contracts waiting", retries=50)


async def test_a_sandbox_account_is_added_and_paired_through_its_qr_link(signed_in: User) -> None:
    user = signed_in
    await user.open("/accounts")
    await user.should_see("No account yet")
    user.find("Add account").click()
    user.find("Name").type("Trial")
    user.find(ui.radio).click()  # the options, in order: WhatsApp, then the sandbox
    user.find("Sandbox (simulated, for trying)").click()
    user.find("Add and pair").click()
    await user.should_see("account pairs like a phone would")
    account = await Account.get(name="Trial")
    assert account.status == AccountStatus.PAIRING and account.qr_code.startswith("http://test/sandbox/pair/")
    await user.should_see(account.qr_code)  # the link under the QR code

    await user.open(account.qr_code.removeprefix("http://test"))  # as the phone's camera would
    await user.should_see("Trial is paired")
    assert (await Account.get(id=account.id)).status == AccountStatus.CONNECTED
    await user.open("/accounts/" + account.id + "/pair")
    await user.should_see("Paired: Trial")
    await user.open(account.qr_code.removeprefix("http://test"))
    await user.should_see("This pairing link is not valid any more.")


async def test_the_wizard_checks_pasted_rows_and_creates_a_started_contract(signed_in: User) -> None:
    user = signed_in
    account = await Account.create(name="Sales", use_limits=False)
    await wizard_accounts(user, "Sales · connected")
    pasted = ["phone;name", f"{phone(1)};Anna", "12;Bad", f"+{phone(1)};Again", f"{phone(2)};Boris"]
    await wizard_rows(user, pasted, "4 rows · columns: phone, name")
    user.find("Message").type("Hello {name}!")
    await user.should_see("Preview of the first recipients")
    assert any("Hello Boris!" in table_text(t) for t in user.find(ui.table).elements), "the live preview"
    user.find("Check the recipients").click()
    await user.should_see("Invalid numbers: 1")
    await user.should_see("Repeated numbers (the first is kept): 1")
    await user.should_see("Leave these 2 rows out")
    user.find(marker="download-left-out").click()
    left_out = await user.download.next(timeout=5)
    assert left_out.status_code == 200, left_out.text
    rows = list(csv.reader(io.StringIO(left_out.content.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["row", "phone", "name", "problem"], "for Excel: a byte-order mark, `;`"
    # A leading + is marked as text (a formula otherwise), as Excel marks it; the wizard reads it back.
    assert [r[:3] for r in rows[1:]] == [["2", "12", "Bad"], ["3", f"'+{phone(1)}", "Again"]]
    assert rows[2][3] == "the same number as row 1"
    again = await user.http_client.get(left_out.request.url.path)
    assert again.status_code == 404, "fetched once"
    user.find("Next").click()
    user.find("Contract name").type("November")
    user.find("Create contract").click()
    await user.should_see("Contract created with 2 recipients")
    contract = await Contract.get(name="November")
    assert contract.status in (ContractStatus.QUEUED, ContractStatus.IN_PROGRESS)
    rows = (
        await Recipient.filter(contract_id=contract.id)
        .order_by("position")
        .values_list("phone_number", "message")
    )
    assert rows == [(phone(1), "Hello Anna!"), (phone(2), "Hello Boris!")]
    assert account.id == contract.account_id


async def test_the_wizard_reads_pasted_russian_numbers_in_the_region_chosen_and_remembers_it(
    signed_in: User,
) -> None:
    user = signed_in
    await Account.create(name="Sales", use_limits=False)
    await wizard_accounts(user, "Sales · connected")
    pasted = ["8 (915) 915-03-12", "89992998816", "8 916 555-12-34", "030 1234567"]
    await wizard_rows(user, pasted, "4 rows · columns: phone")  # numbers alone: no header
    user.find("Message").type("Hello!")
    user.find("Check the recipients").click()
    await user.should_see("3 numbers without a country code.", retries=100)
    (note,) = user.find(marker="rewritten").elements
    assert "The code +7 (Russia) was added, e.g. 8 (915) 915-03-12 → +7 915 915-03-12" in note.text
    await user.should_see("Invalid numbers: 1")  # the German one, under RU
    assert user.find(marker="phone-region").elements.pop().value == "RU", "DEFAULT_PHONE_REGION"

    user.find(marker="phone-region").elements.pop().set_value("DE")
    await user.should_see("The code +49 (Germany) was added", retries=100)
    await until(lambda: _region_remembered("DE"), "the region in the draft")
    await user.open("/contracts/new")  # a reload
    assert user.find(marker="phone-region").elements.pop().value == "DE"
    user.find("Check the recipients").click()
    await user.should_see("The code +49 (Germany) was added", retries=100)

    user.find(marker="phone-region").elements.pop().set_value("RU")
    await user.should_see("The code +7 (Russia) was added", retries=100)
    user.find("Next").click()
    user.find("Contract name").type("Moscow")
    user.find("Create contract").click()
    await user.should_see("Contract created with 3 recipients", retries=50)
    contract = await Contract.get(name="Moscow")
    stored = (
        await Recipient.filter(contract_id=contract.id)
        .order_by("position")
        .values_list("phone_number", flat=True)
    )
    assert stored == ["79159150312", "79992998816", "79165551234"]


async def _region_remembered(region: str) -> bool:
    return (await wizard_drafts.recall("anna")).get("region") == region


async def test_the_wizard_sends_with_a_pool_and_warns_of_an_account_not_connected(signed_in: User) -> None:
    user = signed_in
    sales = await Account.create(name="Sales", use_limits=False)
    spare = await Account.create(name="Spare", status=AccountStatus.DISCONNECTED)
    await wizard_accounts(user, "Sales · connected", "Spare · disconnected")
    await user.should_see("Not connected, so not sending until they are: Spare (disconnected)")
    await wizard_rows(user, ["phone", phone(1), phone(2)], "2 rows · columns: phone")
    user.find("Message").type("Hello!")
    user.find("Check the recipients").click()
    await user.should_see("ready to send", retries=50)
    await user.should_see("If started now: about 1 minute on 2 accounts")
    user.find("Next").click()
    user.find("Contract name").type("Pooled")
    user.find("Create contract").click()
    await user.should_see("Contract created with 2 recipients")
    contract = await Contract.get(name="Pooled")
    pool = (
        await PoolMember.filter(contract_id=contract.id)
        .order_by("position")
        .values_list("account_id", flat=True)
    )
    assert pool == [sales.id, spare.id]


async def test_the_contract_page_starts_pauses_resumes_searches_and_deletes(signed_in: User, client) -> None:
    user = signed_in
    account = await Account.create(name="Sales", use_limits=True)
    body = {
        "accountId": account.id,
        "name": "<b>Promo</b>",
        "recipients": [
            {"phoneNumber": phone(i), "message": f"<script>alert({i})</script>"} for i in range(30)
        ],
    }
    contract_id = (await client.post("/api/contracts", json=body)).json()["id"]
    await user.open(f"/contracts/{contract_id}")
    await user.should_see("<b>Promo</b>")  # names are text, not markup
    user.find("Start").click()
    await user.should_see("Started")
    await user.should_see("Pause")
    user.find("Pause").click()
    await user.should_see("Paused")
    assert (await Contract.get(id=contract_id)).status == ContractStatus.PAUSED
    user.find("Resume").click()
    await user.should_see("Resumed")

    user.find("All").click()
    rows = await recipient_rows(user, 25)
    assert rows[0]["message"] == "<script>alert(0)</script>" and rows[0]["position"] == 1
    user.find(marker="next-page").click()
    assert [r["position"] for r in await recipient_rows(user, 5)] == list(range(26, 31))
    user.find(marker="search").type(phone(17)[7:])  # the end of the number, not its start
    assert [r["phone"] for r in await recipient_rows(user, 1)] == [phone(17)]
    user.find(marker="search").clear().type("ALERT(23)")  # words of the message, in any case
    await user.should_see(marker="search", content="ALERT(23)")
    for _ in range(50):
        if [r["phone"] for r in await recipient_rows(user, 1)] == [phone(23)]:
            break
        await asyncio.sleep(0.05)
    assert [r["phone"] for r in await recipient_rows(user, 1)] == [phone(23)]

    await user.should_not_see(marker="delete")  # running: cancel it first
    user.find(marker="cancel").click()
    await user.should_see("Cancel this contract?")
    user.find("Keep it").click()
    await user.should_not_see("Cancel this contract?")
    assert (await Contract.get(id=contract_id)).status == ContractStatus.QUEUED
    user.find(marker="cancel").click()
    await user.should_see("Cancel this contract?")
    user.find(marker="confirm-cancel").click()
    await user.should_see("Cancelled")
    assert (await Contract.get(id=contract_id)).status == ContractStatus.CANCELLED
    await user.should_not_see(marker="cancel")
    user.find("Skipped").click()  # the report stays: the unsent, skipped with the reason
    for _ in range(50):  # the search above still applies: one row
        (row,) = await recipient_rows(user, 1)
        if row["status"] == "skipped":
            break
        await asyncio.sleep(0.05)
    assert (row["status"], row["note"]) == ("skipped", "not sent: the contract was cancelled")

    user.find(marker="delete").click()
    await user.should_see("Delete this contract?")
    user.find("Keep it").click()
    await user.should_not_see("Delete this contract?")
    assert await Contract.exists(id=contract_id)
    user.find(marker="delete").click()
    await user.should_see("Delete this contract?")
    user.find(marker="confirm-delete").click()
    await user.should_see("Deleted")
    assert not await Contract.exists(id=contract_id)


async def test_an_operator_is_offered_cancel_and_delete_only_on_their_own_contracts(
    user: User, db, broker_started
) -> None:
    from services import team

    await users.create_first_user("anna", "correct horse")
    await team.join(await team.invite("anna", users.OPERATOR), "boris", "battery staple")
    account = await Account.create(name="Sales")
    made = {
        who: (
            await contracts.create_contract(account.id, who, [phone(1)], ["hi"], created_by=who)
        ).contract.id
        for who in ("anna", "boris")
    }
    await sign_in_page(user, "boris", "battery staple")
    await user.open(f"/contracts/{made['anna']}")
    await user.should_see("created by anna")
    await user.should_see("Start")
    await user.should_not_see(marker="cancel")
    await user.should_not_see(marker="delete")
    await user.open(f"/contracts/{made['boris']}")
    user.find(marker="cancel").click()
    await user.should_see("Cancel this contract?")
    user.find(marker="confirm-cancel").click()
    await user.should_see("Cancelled")
    assert (await Contract.get(id=made["boris"])).status == ContractStatus.CANCELLED


async def test_the_csv_export_is_for_signed_in_users_only(signed_in: User, client) -> None:
    account = await Account.create(name="Sales")
    body = {
        "accountId": account.id,
        "recipients": [{"phoneNumber": phone(1), "message": "=cmd|' /C calc'!A0"}],
    }
    contract_id = (await client.post("/api/contracts", json=body)).json()["id"]
    signed_in.http_client.cookies.set("tz", "Europe%2FMoscow")  # as the pages' script writes it
    r = await signed_in.http_client.get(f"/ui/contracts/{contract_id}/export.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    header, row = r.content.decode("utf-8-sig").splitlines()
    assert '"sentAt (Europe/Moscow)"' in header.split(";"), "for Excel: `;`, times in the browser's zone"
    assert row.endswith(";\"'=cmd|' /C calc'!A0\""), "formulas defused"
    r = await signed_in.http_client.get(f"/ui/contracts/{contract_id}/export.xlsx")
    assert r.status_code == 200 and r.content.startswith(b"PK"), "a workbook (a zip)"
    r = await signed_in.http_client.get("/ui/contracts/contract_nope/export.csv")
    assert r.status_code == 404 and "contract_nope" in r.json()["error"]
    signed_in.http_client.cookies.clear()
    for kind in ("csv", "xlsx"):
        r = await signed_in.http_client.get(f"/ui/contracts/{contract_id}/export.{kind}")
        assert r.status_code == 401


async def test_a_linked_whatsapp_account_is_logged_out_after_confirming(signed_in: User) -> None:
    user = signed_in
    account = await Account.create(
        name="Shop phone", transport="whatsapp", status=AccountStatus.CONNECTED, phone=phone(1)
    )
    await user.open("/accounts")
    await user.should_see("Shop phone")
    user.find(marker="log-out").click()
    await user.should_see("Log Shop phone out?")
    user.find("Stay linked").click()
    await user.should_not_see("Log Shop phone out?")
    assert (await Account.get(id=account.id)).status == AccountStatus.CONNECTED
    user.find(marker="log-out").click()
    await user.should_see("Log Shop phone out?")
    user.find(marker="confirm-log-out").click()
    await user.should_see("Logged out")
    assert (await Account.get(id=account.id)).status == AccountStatus.LOGGED_OUT


async def test_an_account_is_named_renamed_and_deleted_after_confirming(signed_in: User) -> None:
    user = signed_in
    await user.open("/accounts")
    user.find("Add account").click()
    user.find("Add and pair").click()
    await user.should_see("Name the account")
    assert await Account.all().count() == 0, "no account without a name"
    account = await Account.create(name="Old name", transport="sandbox")
    await user.open("/accounts")
    user.find(marker="rename").click()
    await user.should_see("Rename Old name")
    user.find(marker="new-name").clear().type("New name")
    user.find(marker="save-name").click()
    await user.should_see("Saved")
    assert (await Account.get(id=account.id)).name == "New name"
    user.find(marker="delete-account").click()
    await user.should_see("Delete New name?")
    user.find(marker="confirm-delete-account").click()
    await user.should_see("Deleted")
    assert not await Account.exists(id=account.id)


async def test_a_page_closed_while_it_asks_logs_nothing(
    signed_in: User, caplog: pytest.LogCaptureFixture
) -> None:
    """The tab closed with a confirmation open: the dialog went with the page, and deleting it again
    logged a traceback."""
    user = signed_in
    account = await Account.create(name="Sales", transport="sandbox")
    await user.open("/accounts")
    user.find(marker="delete-account").click()
    await user.should_see("Delete Sales?")
    assert user.client is not None
    user.client.delete()  # as when the browser goes away and NiceGUI forgets the page
    await asyncio.sleep(0.5)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert await Account.exists(id=account.id), "nothing was answered, nothing done"


async def test_a_pairing_that_could_not_reach_whatsapp_says_so_plainly_and_can_be_retried(
    signed_in: User,
) -> None:
    user = signed_in
    account = await Account.create(
        name="Shop phone",
        transport="whatsapp",
        status=AccountStatus.DISCONNECTED,
        status_reason="could not connect: [Errno 101] Network is unreachable",
    )
    await user.open(f"/accounts/{account.id}/pair")
    await user.should_see("This server could not reach WhatsApp")
    await user.should_see("Details: could not connect")
    user.find(marker="retry-pairing").click()
    await user.should_see("Trying again…")
    assert (await Account.get(id=account.id)).status == AccountStatus.PAIRING
    await Account.filter(id=account.id).update(status=AccountStatus.DISCONNECTED)
    await accounts.pair_by_phone(account.id, "+7 999 000-00-01")  # by code, after a failure too
    assert (await Account.get(id=account.id)).pair_phone == "79990000001"
    sandbox = await Account.create(name="Trial", transport="sandbox", status=AccountStatus.DISCONNECTED)
    with pytest.raises(Conflict):  # disconnected by its simulated network: it waits, it is not re-paired
        await accounts.pair_again(sandbox.id)


async def change_password(user: User, new: str, again: str) -> None:
    """Fill the user menu's Change password dialog (the current password: the fixture's) and save."""
    user.find(marker="change-password").click()
    await user.should_see(marker="current-password")
    for marker, typed in (
        ("current-password", "correct horse"),
        ("new-password", new),
        ("new-password-again", again),
    ):
        user.find(marker=marker).type(typed)
    user.find(marker="save-password").click()


async def test_a_user_changes_their_password_from_their_menu(signed_in: User) -> None:
    user = signed_in
    await user.open("/")
    await change_password(user, "battery staple", "battery stapler")
    await user.should_see("The two new passwords differ")
    assert await users.authenticate("anna", "correct horse"), "nothing changed"
    await change_password(user, "battery staple", "battery staple")
    await user.should_see("Password changed", retries=50)  # two argon2 hashes
    assert await users.authenticate("anna", "battery staple")


async def test_turning_limits_off_asks_first(signed_in: User) -> None:
    user = signed_in
    account = await Account.create(name="Sales", use_limits=True)
    await user.open("/accounts")
    user.find(ui.switch).click()
    await user.should_see("Turn limits off for Sales?")
    user.find("Keep limits").click()
    await user.should_not_see("Turn limits off for Sales?")
    assert (await Account.get(id=account.id)).use_limits
    user.find(ui.switch).click()
    await user.should_see("Turn limits off for Sales?")
    user.find(marker="confirm").click()
    await user.should_see("Limits off")
    assert not (await Account.get(id=account.id)).use_limits


async def test_the_overview_lists_contracts_with_their_progress_and_filters_them(
    signed_in: User, client
) -> None:
    user = signed_in
    sales = await Account.create(name="Sales")
    support = await Account.create(name="Support")
    for account, name, n in ((sales, "Autumn", 3), (support, "Winter", 2)):
        body = {
            "accountId": account.id,
            "name": name,
            "recipients": [{"phoneNumber": phone(i), "message": "hi"} for i in range(n)],
        }
        assert (await client.post("/api/contracts", json=body)).status_code == 201
    autumn = await Contract.get(name="Autumn")
    async with in_transaction() as conn:  # one of Autumn's three sent
        first = await Recipient.filter(contract_id=autumn.id, position=0).values_list("id", flat=True)
        await Recipient.change_status(
            autumn.id, RecipientStatus.PENDING, RecipientStatus.SENT, conn, ids=first
        )
    await user.open("/")
    await user.should_see("1 / 3")
    await user.should_see("0 / 2")
    user.find(marker="account-filter").click()
    user.find("Support").click()
    await user.should_not_see("1 / 3")
    await user.should_see("Winter")


async def test_create_and_launch_starts_schedules_or_keeps_what_it_cannot_start(db, broker_started) -> None:
    """The wizard's one decision, as a service: the contract is created whatever happens to its start."""
    from datetime import UTC, datetime, timedelta

    ready = await Account.create(name="ready")
    lost = await Account.create(name="lost", transport="whatsapp", status=AccountStatus.LOGGED_OUT)
    numbers, texts = [phone(1), phone(2), phone(1)], ["a", "b", "c"]

    now = await contracts.create_and_launch(ready.id, "now", numbers, texts, "now")
    assert (now.contract.status, now.refused, len(now.duplicates)) == (ContractStatus.QUEUED, None, 1)
    at = datetime.now(UTC) + timedelta(hours=2)
    later = await contracts.create_and_launch(ready.id, "later", numbers, texts, at)
    assert later.contract.status == ContractStatus.PENDING and later.contract.start_at == at
    kept = await contracts.create_and_launch(ready.id, "kept", numbers, texts, None)
    assert kept.contract.status == ContractStatus.PENDING and kept.contract.start_at is None
    refused = await contracts.create_and_launch(lost.id, "refused", numbers, texts, "now")
    assert refused.refused is not None and "pair" in str(refused.refused).lower()
    assert (await Contract.get(id=refused.contract.id)).status == ContractStatus.PENDING


async def test_the_contract_page_says_why_it_waits_and_what_each_account_sent(signed_in: User) -> None:

    user = signed_in
    away = await Account.create(name="Away phone", status=AccountStatus.DISCONNECTED)
    created = await contracts.create_contract([away.id], "Waiting", [phone(1)], ["Hi"])
    await contracts.start_contract(created.contract.id)
    await user.open(f"/contracts/{created.contract.id}")
    await user.should_see("Waiting: no connected account")
    (pool,) = [t for t in user.find(ui.table).elements if any(c["name"] == "account" for c in t.columns)]
    assert pool.rows == [
        {"account": "Away phone", "status": "disconnected", "sent": "0", "failed": "0", "skipped": "0"}
    ]


async def test_a_warm_up_plan_is_set_on_the_accounts_page_which_shows_what_is_left_today(
    signed_in: User,
) -> None:
    user = signed_in
    account = await Account.create(name="Young")
    await user.open("/accounts")
    await user.should_see("0 sent today of 500 (500 left)")
    user.find(marker="warm-up").click()
    await user.should_see("Warm-up plan of Young")
    user.find("Daily caps").type("20, forty")
    user.find("Save").click()
    await user.should_see("Daily caps: whole numbers separated by commas")
    user.find("Daily caps").clear().type("20, 40, 80")
    user.find("Save").click()
    await user.should_see("0 sent today of 20 (20 left)")
    await user.should_see("warming up")
    assert (await Account.get(id=account.id)).warmup_plan == [20, 40, 80]


async def test_the_accounts_page_shows_each_accounts_last_hour_and_a_slow_down(signed_in: User) -> None:
    user = signed_in
    tired = await Account.create(name="Tired", pace_factor=2.0)
    await Account.create(name="Fresh")
    minute = datetime.now(UTC).replace(second=0, microsecond=0)
    await SendMinute.create(contract_id="c", account_id=tired.id, minute=minute, sent=18, failed=4, retried=1)
    await user.open("/accounts")
    await user.should_see("18 sent · 4 failed (18%) · 1 retried · 0 rate limits · 0 disconnects")
    await user.should_see("0 sent · 0 failed · 0 retried · 0 rate limits · 0 disconnects")
    await user.should_see("slowed down ×2: 4 of 22 sends failed since")


async def test_the_wizard_plans_days_for_one_new_number_and_less_on_all_connected(signed_in: User) -> None:
    user = signed_in
    await Account.create(name="New")
    for i in range(4):
        await Account.create(name=f"Other {i}")
    await wizard_accounts(user, "New · connected")
    await wizard_rows(user, ["phone", *(phone(i) for i in range(1969))], "1,969 rows · columns: phone")
    user.find("Message").type("Hello!")
    user.find("Check the recipients").click()
    await user.should_see("ready to send", retries=100)
    await user.should_see("hours on 5 accounts", retries=100)  # the plan follows the check
    (plan,) = user.find(marker="plan").elements
    assert "days on 1 account; about" in plan.text and "hours on 5 accounts" in plan.text, plan.text


async def test_an_account_whose_transport_was_taken_out_is_listed_and_can_be_deleted(
    signed_in: User, client
) -> None:
    user = signed_in
    old = await Account.create(name="Old gateway", transport="retired")
    await user.open("/accounts")
    await user.should_see("transport retired is not installed")
    assert (await client.delete(f"/api/accounts/{old.id}")).status_code == 204


def browser_at_utc_plus_3(user: User) -> None:
    """Tell the pages the browser's zone as a browser in Moscow (UTC+3 all year) does, in its cookie."""
    user.http_client.cookies.set("tz", "Europe/Moscow")


def typed_in_the_browser(at: datetime) -> str:
    """A UTC time as a datetime-local input at UTC+3 holds it."""
    return f"{at + timedelta(hours=3):%Y-%m-%dT%H:%M}"


def in_moscow(at: datetime) -> str:
    """A UTC time as the pages show it to a browser in Moscow (UTC+3), in English."""
    return f"{at + timedelta(hours=3):%Y-%m-%d %H:%M}"


def in_a_while(hours: float) -> datetime:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(second=0, microsecond=0)


async def test_the_contract_page_shows_its_window_and_changes_or_cancels_its_scheduled_start(
    signed_in: User, client
) -> None:
    user = signed_in
    browser_at_utc_plus_3(user)
    account = await Account.create(name="Sales")
    at, later = in_a_while(2), in_a_while(5)
    body = {
        "accountId": account.id,
        "recipients": [{"phoneNumber": phone(1), "message": "hi"}],
        "startAt": at.isoformat(),
        "sendWindow": {"start": "10:00", "end": "18:00", "days": [1, 2, 3, 4, 5]},
    }
    contract_id = (await client.post("/api/contracts", json=body)).json()["id"]
    await user.open(f"/contracts/{contract_id}")
    await user.should_see(f"Starts at {in_moscow(at)}")
    await user.should_see("Sends 10:00–18:00, days 1,2,3,4,5 in each recipient's local time")

    user.find(marker="schedule").click()
    await user.should_see("Start by itself at")
    user.find("Time (Europe/Moscow)").type(typed_in_the_browser(later))
    user.find(marker="save-time").click()
    await user.should_see("Saved")
    assert (await Contract.get(id=contract_id)).start_at == later
    await user.should_see(f"Starts at {in_moscow(later)}", retries=50)

    user.find(marker="schedule").click()
    await user.should_see("Don't start by itself")
    user.find("Don't start by itself").click()
    await user.should_see("Cleared")
    contract = await Contract.get(id=contract_id)
    assert (contract.start_at, contract.status) == (None, ContractStatus.PENDING)
    await user.should_not_see("Starts at", retries=50)


async def test_the_contract_page_sets_a_deadline_and_warns_when_the_plan_ends_after_it(
    signed_in: User, client
) -> None:
    user = signed_in
    browser_at_utc_plus_3(user)
    account = await Account.create(name="New")  # a new account's daily cap: 500
    body = {
        "accountId": account.id,
        "recipients": [{"phoneNumber": phone(i), "message": "hi"} for i in range(600)],
    }
    contract_id = (await client.post("/api/contracts", json=body)).json()["id"]
    await user.open(f"/contracts/{contract_id}")

    user.find(marker="set-deadline").click()
    await user.should_see("Time (Europe/Moscow)")
    user.find("Time (Europe/Moscow)").type(typed_in_the_browser(in_a_while(-1)))
    user.find(marker="save-time").click()
    await user.should_see("has passed")
    assert (await Contract.get(id=contract_id)).deadline is None

    soon = in_a_while(2)
    user.find(marker="set-deadline").click()
    await user.should_see("Time (Europe/Moscow)")
    user.find("Time (Europe/Moscow)").type(typed_in_the_browser(soon))
    user.find(marker="save-time").click()
    await user.should_see(f"Deadline {in_moscow(soon)}", retries=50)
    assert (await Contract.get(id=contract_id)).deadline == soon
    await user.should_see("after the deadline", retries=50)  # 600 at 500 a day take two days

    user.find(marker="set-deadline").click()
    await user.should_see("No deadline")
    user.find("No deadline").click()
    await user.should_not_see("after the deadline", retries=50)
    assert (await Contract.get(id=contract_id)).deadline is None


async def test_the_wizard_sets_the_send_window_and_a_deadline_and_warns_when_the_plan_ends_after_it(
    signed_in: User,
) -> None:
    user = signed_in
    browser_at_utc_plus_3(user)
    await Account.create(name="New")
    await wizard_accounts(user, "New · connected")
    await wizard_rows(user, ["phone", *(phone(i) for i in range(600))], "600 rows · columns: phone")
    user.find("Message").type("Hello!")
    user.find("Check the recipients").click()
    await user.should_see("ready to send", retries=100)
    user.find("Next").click()
    (start,) = user.find(marker="window-start").elements
    assert start.value == "00:00", "the settings' window (the whole day in the tests)"
    user.find(marker="window-start").clear().type("10:00")
    user.find(marker="window-end").clear().type("18:00")
    user.find(marker="send-days").click()
    user.find("Sat").click()
    user.find("Sun").click()

    user.find(marker="deadline").type(typed_in_the_browser(in_a_while(2)))
    await user.should_see("after the deadline", retries=50)
    deadline = in_a_while(24 * 30)
    user.find(marker="deadline").clear().type(typed_in_the_browser(deadline))
    await user.should_not_see("after the deadline", retries=50)
    user.find("Contract name").type("Weekdays")
    user.find("Create contract").click()
    await user.should_see("Contract created with 600 recipients", retries=50)
    contract = await Contract.get(name="Weekdays")
    assert contract.send_window == {"start": "10:00", "end": "18:00", "days": [1, 2, 3, 4, 5]}
    assert contract.deadline == deadline


async def test_a_deleted_contracts_page_says_so_calmly_and_logs_no_traceback(
    signed_in: User, caplog: pytest.LogCaptureFixture
) -> None:
    """Deleted while its page is open (each refresh found it gone), and opened again afterwards: an
    expected outcome, said on the page and never logged as a fault."""
    user = signed_in
    account = await Account.create(name="Sales")
    made = await contracts.create_contract(account.id, "Gone soon", [phone(1)], ["Hi"])
    await user.open(f"/contracts/{made.contract.id}")
    await user.should_see("Gone soon")
    await contracts.delete_contract(made.contract.id, users.KEY_USER)
    await user.should_see("This contract does not exist or was deleted.", retries=30)
    await asyncio.sleep(2.5)  # refreshes that find it gone again
    await user.open(f"/contracts/{made.contract.id}")
    await user.should_see("This contract does not exist or was deleted.")
    await user.should_see("Back to the overview")
    await asyncio.sleep(1.5)
    faults = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not faults, [r.getMessage() for r in faults]
