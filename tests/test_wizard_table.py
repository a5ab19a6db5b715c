"""The wizard's recipients: reading CSV, XLSX and pasted text, mapping a template, and the check that
names each problem by its row before anything is created."""

from __future__ import annotations

import io
import random
import re
import zipfile
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import Workbook

from models import Account, Contract, ContractStatus, OptOut
from services import contracts
from services.errors import InvalidInput
from services.recipient_files import wizard_table
from tests.helpers import phone


def test_csv_with_semicolons_a_bom_and_blank_lines() -> None:
    table = wizard_table.from_upload("list.csv", "\ufeffТелефон;name\n+7 999 000-00-01;Anna\n\n;\n".encode())
    assert table.columns == ["Телефон", "name"] and table.head(9) == [["+7 999 000-00-01", "Anna"]]
    assert table.count == 1
    assert table.phone_column() == "Телефон" and table.default_template() == ""


def test_pasted_numbers_without_a_header_are_one_phone_column() -> None:
    table = wizard_table.from_csv_text("+7 999 000-00-01\n79990000002\n")
    assert table.columns == ["phone"] and table.count == 2


@pytest.mark.parametrize(
    ("pasted", "rows"),
    [
        ("8 (915) 915-03-12", [["8 (915) 915-03-12"]]),  # one number: a row, not a header
        ("8 (915) 915-03-12\n+7 916 555-12-34\n", [["8 (915) 915-03-12"], ["+7 916 555-12-34"]]),
        ("89992998816\n'+7 (999) 000-00-01\n", [["89992998816"], ["'+7 (999) 000-00-01"]]),
    ],
)
def test_pasted_numbers_however_spaced_are_a_list_without_a_header(
    pasted: str, rows: list[list[str]]
) -> None:
    table = wizard_table.from_csv_text(pasted)
    assert (table.columns, table.head(9), table.count) == (["phone"], rows, len(rows))


def test_pasted_rows_whose_first_has_a_number_have_no_header_and_their_numbers_are_the_phone() -> None:
    table = wizard_table.from_csv_text("Anna;8 (915) 915-03-12\nBoris;8 916 555-12-34\n")
    assert table.columns == ["column 1", "phone"] and table.count == 2
    assert table.phone_column() == "phone"


@pytest.mark.parametrize("header", ["phone;name", "Телефон;Имя", "tel.;2024"])
def test_a_pasted_header_row_is_recognised_as_one(header: str) -> None:
    table = wizard_table.from_csv_text(f"{header}\n8 (915) 915-03-12;Anna\n")
    assert table.columns == header.split(";") and table.head(9) == [["8 (915) 915-03-12", "Anna"]]


def test_an_excel_workbook_gives_numbers_as_their_digits() -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["Phone", "Name", "Message"])
    sheet.append([79990000001, "Anna", "Hi Anna"])
    sheet.append([None, None, None])
    sheet.append(["+7 999 000-00-02", "Boris", None])
    data = io.BytesIO()
    book.save(data)
    table = wizard_table.from_upload("clients.xlsx", data.getvalue())
    assert table.head(9) == [["79990000001", "Anna", "Hi Anna"], ["+7 999 000-00-02", "Boris", ""]]
    assert (table.phone_column(), table.default_template()) == ("Phone", "{Message}")


@pytest.mark.parametrize(
    ("name", "data", "says"),
    [
        ("list.csv", bytes(range(256)) * 64, "save it as CSV UTF-8"),
        ("list.xlsx", b"not a zip", "not a readable XLSX"),
        ("list.csv", b"phone,name\n", "no rows under its header"),
    ],
)
def test_unusable_files_are_refused_with_the_reason(name: str, data: bytes, says: str) -> None:
    with pytest.raises(InvalidInput, match=says):
        wizard_table.from_upload(name, data)


def test_template_faults_name_the_missing_column() -> None:
    table = wizard_table.from_csv_text("phone,name\n79990000001,Anna\n")
    assert wizard_table.template_fault(table, "Hi {nmae}") == "no column 'nmae'"
    assert wizard_table.template_fault(table, "  ") is not None
    assert list(wizard_table.messages(table, "Hi {name}, {name}!")) == ["Hi Anna, Anna!"]


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
    table = wizard_table.from_csv_text("phone,name,text\n" + "\n".join(rows))
    report = await wizard_table.check(table, "phone", "{text} {name}", [account.id])
    assert [(r, raw) for r, raw, _ in report.invalid] == [(2, "12")]
    assert report.duplicates == [(3, phone(1), 1)]
    assert report.opted_out == [(4, phone(3))]
    assert report.bad_messages == [] and not report.clean
    assert report.kept() == ([phone(1), phone(4), phone(5)], ["hi Anna", " Empty", "hi Fine"])
    empty = await wizard_table.check(table, "phone", "{text}", [account.id])
    assert empty.bad_messages == [(5, "must not be empty")]


async def test_the_check_reads_numbers_without_a_country_code_as_the_regions_and_counts_them(db) -> None:
    account = await Account.create(name="a")
    numbers = ["79991234567", "8 (915) 915-03-12", "+7 999 000-00-02", "8 916 555-12-34", "030 1234567"]
    table = wizard_table.from_csv_text("phone\n" + "\n".join(numbers))
    report = await wizard_table.check(table, "phone", "hi", [account.id], "RU")
    assert (report.rewritten, report.example) == (2, ("8 (915) 915-03-12", "79159150312"))
    assert [(row, raw) for row, raw, _ in report.invalid] == [(5, "030 1234567")]
    assert report.kept()[0] == ["79991234567", "79159150312", "79990000002", "79165551234"]
    german = await wizard_table.check(table, "phone", "hi", [account.id], "DE")
    assert german.phone_numbers[0::2] == ["79991234567", "79990000002", "49301234567"]
    strict = await wizard_table.check(table, "phone", "hi", [account.id])
    assert strict.rewritten == 0 and strict.example is None and len(strict.invalid) == 3


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


LIMIT = 20_000  # MAX_RECIPIENTS in tests/conftest.py


def test_an_unterminated_quote_is_refused_naming_its_row() -> None:
    for text, row in [
        ('phone,message\n79991234567,"hi\n79991234568,x\n', "row 1"),
        ('phone;message\n79991234567;ok\n\n79991234568;"hi\n79991234569;x\n', "row 2"),
    ]:
        with pytest.raises(InvalidInput, match="cannot be read") as refused:
            wizard_table.from_upload("list.csv", text.encode())
        [problem] = refused.value.problems
        assert problem.field == row and "never closed" in problem.message, problem
        with pytest.raises(InvalidInput, match=row):
            wizard_table.from_csv_text(text)
    closed = wizard_table.from_csv_text('phone,message\n79991234567,"hi\nthere"\n79991234568,x\n')
    assert closed.count == 2
    assert list(wizard_table.messages(closed, "{message}")) == ["hi\nthere", "x"]


def test_a_csv_over_the_recipient_limit_is_refused_naming_the_limit() -> None:
    rows = "".join(f"7999{i:07d},m\n" for i in range(LIMIT))
    assert wizard_table.from_upload("list.csv", ("phone,message\n" + rows).encode()).count == LIMIT
    with pytest.raises(InvalidInput, match=f"more than {LIMIT} rows"):
        wizard_table.from_upload("list.csv", ("phone,message\n" + rows + "79990000001,m\n").encode())
    with pytest.raises(InvalidInput, match=f"more than {LIMIT} rows"):
        wizard_table.from_csv_text("".join(f"7999{i:07d}\n" for i in range(LIMIT + 1)))  # no header


def test_csv_reading_stops_at_the_first_row_past_the_limit() -> None:
    from tests.test_csv import Endless

    with pytest.raises(InvalidInput, match=f"more than {LIMIT} rows"):
        wizard_table.from_upload("list.csv", io.BufferedReader(Endless(LIMIT, endless=True)))


def test_an_xlsx_over_the_recipient_limit_is_refused_naming_the_limit() -> None:
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(["phone"])
    for i in range(LIMIT + 1):
        sheet.append([79990000000 + i])
    data = io.BytesIO()
    book.save(data)
    with pytest.raises(InvalidInput, match=f"more than {LIMIT} rows"):
        wizard_table.from_upload("big.xlsx", data.getvalue())
    # Without a <dimension> before the rows, openpyxl parsed the whole sheet when it opened the book,
    # keeping an element per row: a broken end after the limit shows whether it still reads that far.
    cut = io.BytesIO()
    with zipfile.ZipFile(data) as source, zipfile.ZipFile(cut, "w", zipfile.ZIP_DEFLATED) as out:
        for member in source.infolist():
            xml = source.read(member)
            if member.filename == "xl/worksheets/sheet1.xml":
                xml = re.sub(rb"<dimension[^>]*/>", b"", xml).replace(b"</sheetData>", b"<row><c><v>1</v")
            out.writestr(member.filename, xml)
    with pytest.raises(InvalidInput, match=f"more than {LIMIT} rows"):
        wizard_table.from_upload("cut.xlsx", cut.getvalue())


def test_an_xlsx_that_unpacks_to_far_more_than_its_size_is_refused_before_it_is_read() -> None:
    """A zip bomb: a valid workbook whose sheet XML holds 64 MiB of blanks, packed into ~70 KB."""
    book = Workbook()
    book.active.append(["phone"])
    book.active.append(["79990000001"])
    plain = io.BytesIO()
    book.save(plain)
    bomb = io.BytesIO()
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as out:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"<sheetData>", b"<sheetData>" + b" " * (64 * 2**20))
            out.writestr(member.filename, data)
    assert len(bomb.getvalue()) < 200_000
    with pytest.raises(InvalidInput, match="unpacks to") as refused:
        wizard_table.from_upload("bomb.xlsx", bomb.getvalue())
    assert "at most 1,073,741,824 bytes unpacked, and 100 times the file's size" in str(
        refused.value.problems[0].message
    )
    assert wizard_table.from_upload("plain.xlsx", plain.getvalue()).count == 1


async def test_the_wizard_refuses_an_upload_over_its_size_before_reading_it() -> None:
    """The upload's max_file_size is only checked in the browser; the server checks it too."""
    from nicegui import ui

    from ui.pages import wizard_recipients

    class Huge(ui.upload.SmallFileUpload):
        def size(self) -> int:
            return 200 * 1024 * 1024 + 1

    with pytest.raises(InvalidInput, match="larger than 209,715,200 bytes"):
        await wizard_recipients._read(Huge("list.csv", "text/csv", b"phone\n79990000001\n"))
    table = await wizard_recipients._read(
        ui.upload.SmallFileUpload("list.csv", "text/csv", b"phone\n79990000001\n")
    )
    assert table.count == 1


def test_a_csv_is_kept_as_its_bytes_and_refused_past_the_upload_size(settings_env) -> None:
    """The table held the text in a StringIO (4 bytes a Cyrillic character) and then a copy of it:
    a 175 MB file of Cyrillic rows took +394 MiB. Now it keeps the file's bytes, read once."""
    import tracemalloc

    data = (
        "phone,message\n" + "".join(f"7999{i:07d},Здравствуйте! Ваш заказ готов\n" for i in range(20_000))
    ).encode()
    tracemalloc.start()
    try:
        table = wizard_table.from_upload("list.csv", io.BytesIO(data))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * len(data), f"reading {len(data):,} bytes took {peak:,}"
    assert table.count == 20_000 and table.text == data
    assert list(wizard_table.messages(table, "{message}", 1)) == ["Здравствуйте! Ваш заказ готов"]
    settings_env(max_upload_bytes=len(data) - 1)
    with pytest.raises(InvalidInput, match=f"larger than {len(data) - 1:,} bytes, the most the wizard reads"):
        wizard_table.from_upload("list.csv", io.BytesIO(data))
    with pytest.raises(InvalidInput, match="larger than"):
        wizard_table.from_csv_text(data.decode())


def test_an_xlsx_whose_parts_read_whole_unpack_past_their_bounds_is_refused_before_it_is_read(
    settings_env, tmp_path
) -> None:
    """openpyxl keeps the shared strings whole (3M of them: +459 MiB from a 69 MiB file) and builds
    objects for every style (120 bytes a byte); the workbook's total size did not bound either."""
    from bench.import_memory import xlsx

    strings = xlsx(tmp_path / "strings.xlsx", 1, True, strings=100_000, stored=True)
    styles = xlsx(tmp_path / "styles.xlsx", 1, True, formats=50_000)
    with zipfile.ZipFile(strings) as z:
        size = z.getinfo("xl/sharedStrings.xml").file_size
    settings_env(max_xlsx_strings_bytes=size - 1, max_xlsx_part_bytes=200_000)
    with pytest.raises(InvalidInput, match=f"its shared strings .* unpack to {size:,} bytes") as refused:
        wizard_table.from_upload("strings.xlsx", strings.read_bytes())
    assert "save the sheet as CSV UTF-8" in str(refused.value)
    with pytest.raises(InvalidInput, match="its parts other than the sheets and shared strings"):
        wizard_table.from_upload("styles.xlsx", styles.read_bytes())
    # Declared a worksheet, styles.xml is still read whole by its name: still counted.
    renamed = tmp_path / "renamed.xlsx"
    with zipfile.ZipFile(styles) as source, zipfile.ZipFile(renamed, "w") as out:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "[Content_Types].xml":
                worksheet = b"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
                data = data.replace(
                    b"</Types>",
                    b'<Override PartName="/xl/styles.xml" ContentType="' + worksheet + b'"/></Types>',
                )
            out.writestr(member, data)
    with pytest.raises(InvalidInput, match="its parts other than"):
        wizard_table.from_upload("renamed.xlsx", renamed.read_bytes())
    settings_env(max_xlsx_strings_bytes=size, max_xlsx_part_bytes=10**6)
    assert wizard_table.from_upload("strings.xlsx", strings.read_bytes()).head(1) == [["79990000000", "0"]]
    assert wizard_table.from_upload("styles.xlsx", styles.read_bytes()).count == 1


def test_the_sheet_size_fix_is_applied_only_to_the_openpyxl_it_was_written_for(monkeypatch) -> None:
    import openpyxl
    from openpyxl.worksheet._read_only import ReadOnlyWorksheet

    from services.recipient_files import xlsx

    assert ReadOnlyWorksheet._get_size is xlsx._sheet_size
    assert xlsx.apply_sheet_size_fix()  # once: again changes nothing
    original = ReadOnlyWorksheet.__dict__["_get_size"]
    monkeypatch.setattr(ReadOnlyWorksheet, "_get_size", lambda self: None)
    own = ReadOnlyWorksheet._get_size
    monkeypatch.setattr(openpyxl, "__version__", "3.2.0")
    assert not xlsx.apply_sheet_size_fix()
    assert ReadOnlyWorksheet._get_size is own
    monkeypatch.undo()
    assert ReadOnlyWorksheet.__dict__["_get_size"] is original


def test_an_xlsx_cell_too_large_to_hold_is_refused_before_it_is_read() -> None:
    """One inline cell of 3 MiB of random text in the sheet: openpyxl would hold it whole while
    streaming the sheet (a 150 MiB one cost +1,156 MiB)."""
    book = Workbook()
    book.active.append(["phone", "message"])
    book.active.append(["79990000001", "hi"])
    plain = io.BytesIO()
    book.save(plain)
    rng = random.Random(1)
    huge = "".join(rng.choice("ab") for _ in range(3 * 2**20)).encode()
    cell = b'<row r="3"><c r="A3" t="inlineStr"><is><t>' + huge + b"</t></is></c></row>"
    padded = io.BytesIO()
    with zipfile.ZipFile(plain) as source, zipfile.ZipFile(padded, "w", zipfile.ZIP_DEFLATED) as out:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", cell + b"</sheetData>")
            out.writestr(member.filename, data)
    with pytest.raises(InvalidInput, match=r"a cell of xl/worksheets/sheet1\.xml unpack to 3,14"):
        wizard_table.from_upload("huge.xlsx", padded.getvalue())
    assert wizard_table.from_upload("plain.xlsx", plain.getvalue()).count == 1
