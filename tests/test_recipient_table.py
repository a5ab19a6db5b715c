"""The wizard's recipients: reading CSV, XLSX and pasted text, mapping a template, and the check that
names each problem by its row before anything is created."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import Workbook

from models import Account, Contract, ContractStatus, OptOut
from services import contracts, recipient_table
from services.errors import InvalidInput
from tests.helpers import phone


def test_csv_with_semicolons_a_bom_and_blank_lines() -> None:
    table = recipient_table.from_upload(
        "list.csv", "\ufeffТелефон;name\n+7 999 000-00-01;Anna\n\n;\n".encode()
    )
    assert table.columns == ["Телефон", "name"] and table.head(9) == [["+7 999 000-00-01", "Anna"]]
    assert table.count == 1
    assert table.phone_column() == "Телефон" and table.default_template() == ""


def test_pasted_numbers_without_a_header_are_one_phone_column() -> None:
    table = recipient_table.from_csv_text("+7 999 000-00-01\n79990000002\n")
    assert table.columns == ["phone"] and table.count == 2


def test_an_excel_workbook_gives_numbers_as_their_digits() -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Phone", "Name", "Message"])
    sheet.append([79990000001, "Anna", "Hi Anna"])
    sheet.append([None, None, None])
    sheet.append(["+7 999 000-00-02", "Boris", None])
    data = io.BytesIO()
    book.save(data)
    table = recipient_table.from_upload("clients.xlsx", data.getvalue())
    assert table.head(9) == [["79990000001", "Anna", "Hi Anna"], ["+7 999 000-00-02", "Boris", ""]]
    assert (table.phone_column(), table.default_template()) == ("Phone", "{Message}")


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("list.csv", b"\xff\xfe\x00bad", "not UTF-8"),
        ("list.xlsx", b"not a zip", "not a readable XLSX"),
        ("list.csv", b"phone,name\n", "no rows under its header"),
    ],
)
def test_unusable_files_are_refused_with_the_reason(name: str, data: bytes, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        recipient_table.from_upload(name, data)


def test_template_faults_name_the_missing_column() -> None:
    table = recipient_table.from_csv_text("phone,name\n79990000001,Anna\n")
    assert recipient_table.template_fault(table, "Hi {nmae}") == "no column 'nmae'"
    assert recipient_table.template_fault(table, "  ") is not None
    assert list(recipient_table.messages(table, "Hi {name}, {name}!")) == ["Hi Anna, Anna!"]


async def test_the_check_names_every_problem_by_row_and_keeps_the_rest(db) -> None:
    account = await Account.create(name="a")
    await OptOut.create(account_id=account.id, phone_number=phone(3), reason="STOP")
    rows = [
        f"+{phone(1)},Anna,hi",
        "12,Bad,hi",
        f"{phone(1)},Anna again,hi",
        f"{phone(3)},Opted,hi",
        f"{phone(4)},Empty,",
        f"{phone(5)},Fine,hi",
    ]
    table = recipient_table.from_csv_text("phone,name,text\n" + "\n".join(rows))
    report = await recipient_table.check(table, "phone", "{text} {name}", account.id)
    assert [(r, raw) for r, raw, _ in report.invalid] == [(2, "12")]
    assert report.duplicates == [(3, phone(1), 1)]
    assert report.opted_out == [(4, phone(3))]
    assert report.bad_messages == [] and not report.clean
    assert report.kept() == ([phone(1), phone(4), phone(5)], ["hi Anna", " Empty", "hi Fine"])
    empty = await recipient_table.check(table, "phone", "{text}", account.id)
    assert empty.bad_messages == [(5, "must not be empty")]


async def test_a_scheduled_contract_starts_by_itself_when_its_time_comes(db, broker_started) -> None:
    account = await Account.create(name="a")
    created = await contracts.create_contract(account.id, "later", [phone(1)], ["hi"])
    at = datetime.now(UTC) + timedelta(minutes=30)
    await contracts.schedule_contract(created.contract.id, at)
    assert await contracts.start_scheduled(at - timedelta(seconds=1)) == []
    assert await contracts.start_scheduled(at) == [created.contract.id]
    assert (await Contract.get(id=created.contract.id)).status == ContractStatus.QUEUED
    with pytest.raises(contracts.Conflict):
        await contracts.schedule_contract(created.contract.id, at)
