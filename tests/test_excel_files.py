"""Files as Russian Excel saves them: plain "CSV" in Windows-1251 with semicolons, "CSV UTF-8" with
a byte-order mark, "Unicode text" in UTF-16 with tabs; read by the wizard and the API's import
alike, and refused in plain words when they are none of these."""

from __future__ import annotations

import asyncio
import codecs
import csv
import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from models import Recipient, RecipientStatus
from services import exports
from services.errors import InvalidInput
from services.recipient_files import encoding, wizard_table
from tests.helpers import new_account
from tests.test_csv import exported, import_csv

ROWS = [("Телефон", "Имя", "Сообщение"), ("+7 999 000-00-01", "Анна", "Здравствуйте, Анна! Скидка 10 %")]


def saved(codec: str, delimiter: str, rows: list[tuple[str, ...]] = ROWS) -> bytes:
    """The rows as a spreadsheet saves them: quoted where needed, lines ending CRLF."""
    text = io.StringIO()
    csv.writer(text, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return text.getvalue().encode(codec)


@pytest.mark.parametrize(
    ("what", "data"),
    [
        ("Russian Excel's CSV (Windows-1251, ;)", saved("cp1251", ";")),
        ("CSV UTF-8 (a byte-order mark, ;)", codecs.BOM_UTF8 + saved("utf-8", ";")),
        ("UTF-8 without a mark (,)", saved("utf-8", ",")),
        ("Unicode text (UTF-16 with its mark, tabs)", saved("utf-16", "\t")),
        ("DOS Cyrillic (866, tabs)", saved("cp866", "\t")),
    ],
)
def test_the_wizard_reads_each_way_excel_saves_a_sheet(what: str, data: bytes) -> None:
    table = wizard_table.from_upload("clients.csv", data)
    assert table.columns == list(ROWS[0]), what
    assert table.head(5) == [list(ROWS[1])], what
    assert table.phone_column() == "Телефон" and table.default_template() == "{Сообщение}"


def test_a_utf8_file_cut_inside_a_letter_at_the_detectors_limit_is_still_utf8() -> None:
    head = "phone,message\n" + "79990000001," + "Ж" * encoding.HEAD_BYTES + "\n"
    data = head.encode()
    assert data[: encoding.HEAD_BYTES].decode("utf-8", "ignore")  # the limit cuts a two-byte letter
    assert encoding.detect(data[: encoding.HEAD_BYTES]) == "utf-8"
    assert wizard_table.from_upload("long.csv", data).count == 1


LATIN_FIRST = [
    ("phone", "name", "note"),
    *((f"7999{i:07d}", f"Client {i}", "ok") for i in range(3000)),  # over 64 KiB of plain ASCII
    ("79995550001", "Ольга", "перезвонить после обеда"),
]


async def test_cyrillic_past_the_first_64_kib_of_plain_ascii_is_told_from_its_own_bytes(client) -> None:
    data = saved("cp1251", ";", LATIN_FIRST)
    assert data[: encoding.HEAD_BYTES].isascii()
    table = wizard_table.from_upload("clients.csv", data)
    assert (table.codec, list(table.rows())[-1]) == ("cp1251", list(LATIN_FIRST[-1]))
    account = await new_account(client)
    r = await import_csv(client, data, accountId=account, template="{name}: {note}")
    assert r.status_code == 201, r.text
    assert (await exported(client, r.json()["id"]))[-1]["message"] == "Ольга: перезвонить после обеда"


def test_a_file_that_is_not_text_is_refused_with_what_to_do() -> None:
    with pytest.raises(InvalidInput, match="save it as CSV UTF-8"):
        wizard_table.from_upload("photo.csv", bytes(range(256)) * 64)


async def test_the_api_imports_a_windows_1251_file_with_semicolons(client) -> None:
    account = await new_account(client)
    rows = [("Имя", "Телефон", "Город"), ("Анна", "79990000001", "Омск"), ("Борис", "79990000002", "Тверь")]
    r = await import_csv(client, saved("cp1251", ";", rows), accountId=account, template="{Имя} из {Город}")
    assert r.status_code == 201, r.text
    messages = [x["message"] for x in await exported(client, r.json()["id"])]
    assert messages == ["Анна из Омск", "Борис из Тверь"]


async def test_the_api_reads_a_file_in_the_charset_its_content_type_declares(client) -> None:
    """Western text in Windows-1252 is told from its bytes as Windows-1251 (Russian Excel's is the
    likelier); a client that says which it is gets it read right, and an unknown charset is refused."""
    account = await new_account(client)
    body = saved("cp1252", ";", [("phone", "name"), ("79990000001", "Günther Müller")])
    r = await import_csv(client, body, "text/csv; charset=windows-1252", accountId=account, template="{name}")
    assert r.status_code == 201, r.text
    assert [x["message"] for x in await exported(client, r.json()["id"])] == ["Günther Müller"]
    r = await import_csv(
        client, body, "text/csv; charset=x-mac-roman-ish", accountId=account, template="{name}"
    )
    assert r.status_code == 422
    assert r.json()["details"][0]["field"] == "Content-Type"


LONG = "третий 😀 " * 3500  # longer than an Excel cell holds, counted as Excel does (an emoji is two)


async def a_contract_sent_in_part(client) -> str:
    """Three recipients, the second SENT at 12:00 UTC, its message one a spreadsheet would run, the
    third's longer than a cell of Excel holds."""
    account = await new_account(client)
    body = {
        "accountId": account,
        "name": "export",
        "recipients": [
            {"phoneNumber": "79990000001", "message": "Привет, Анна"},
            {"phoneNumber": "79990000002", "message": "=1+1"},
            {"phoneNumber": "79990000003", "message": LONG},
        ],
    }
    contract = (await client.post("/api/contracts", json=body)).json()["id"]
    await Recipient.filter(contract_id=contract, position=1).update(
        status=RecipientStatus.SENT, sent_at=datetime(2026, 11, 28, 12, 0, tzinfo=UTC), attempts=1
    )
    return contract


async def test_the_csv_for_excel_has_a_mark_semicolons_rows_from_one_and_times_in_the_zone_asked(
    client,
) -> None:
    contract = await a_contract_sent_in_part(client)
    params = {"excel": "true", "tz": "Europe/Moscow"}
    r = await client.get(f"/api/contracts/{contract}/export.csv", params=params)
    assert r.status_code == 200, r.text
    assert r.content.startswith(codecs.BOM_UTF8)
    # As Excel reads it: the mark tells UTF-8, the list separator of a Russian system is `;`.
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"), newline=""), delimiter=";"))
    assert rows[0] == [*exports.COLUMNS[:4], "sentAt (Europe/Moscow)", *exports.COLUMNS[5:]]
    assert [row[0] for row in rows[1:]] == ["1", "2", "3"]
    assert rows[1][6] == "Привет, Анна"
    assert rows[2][2:5] == ["SENT", "1", "2026-11-28T15:00:00+03:00"]
    assert rows[2][6] == "'=1+1", "a formula is defused"
    assert rows[3][6] == LONG


async def test_the_workbook_export_keeps_text_as_text_and_times_as_dates(client) -> None:
    contract = await a_contract_sent_in_part(client)
    r = await client.get(f"/api/contracts/{contract}/export.xlsx", params={"tz": "Asia/Novosibirsk"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == exports.XLSX_TYPE
    sheet = load_workbook(io.BytesIO(r.content)).worksheets[0]
    rows = list(sheet.iter_rows())
    assert [c.value for c in rows[0]][4] == "sentAt (Asia/Novosibirsk)"
    assert [c.value for c in rows[1]][:3] == [1, "79990000001", "PENDING"]
    sent = rows[2]
    assert sent[4].value == datetime(2026, 11, 28, 19, 0) and sent[4].is_date
    assert (sent[6].value, sent[6].data_type) == ("=1+1", "s"), "text, which Excel never runs"
    long = rows[3][6].value
    assert len(LONG) < exports.EXCEL_CELL_CHARS < len(LONG.encode("utf-16-le")) // 2
    assert len(long.encode("utf-16-le")) // 2 <= exports.EXCEL_CELL_CHARS
    assert long.endswith("…") and LONG.startswith(long[:-1]) and len(long) > 0.8 * len(LONG)


async def test_a_workbook_waits_its_turn_a_few_seconds_then_is_told_to_come_back(
    client, monkeypatch: pytest.MonkeyPatch
) -> None:
    contract = await a_contract_sent_in_part(client)
    monkeypatch.setattr(exports, "BUILD_WAIT_S", 0.2)
    monkeypatch.setattr(exports, "_building", asyncio.Semaphore(1))
    async with exports._building:  # another workbook is being built
        r = await client.get(f"/api/contracts/{contract}/export.xlsx")
    assert r.status_code == 503 and r.headers["Retry-After"] == "60"
    assert "try again" in r.json()["error"]
    r = await client.get(f"/api/contracts/{contract}/export.xlsx")
    assert r.status_code == 200


async def test_an_unknown_zone_is_refused_naming_it(client) -> None:
    contract = await a_contract_sent_in_part(client)
    for kind, zone in [("csv", "Mars/Olympus"), ("xlsx", "Mars/Olympus"), ("csv", "Europe"), ("csv", "..")]:
        r = await client.get(f"/api/contracts/{contract}/export.{kind}", params={"tz": zone})
        assert r.status_code == 422, (zone, r.text)  # "Europe" is a directory of the zone database
        assert r.json()["details"][0]["field"] == "tz"
