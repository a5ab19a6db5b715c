"""Contracts from CSV files (POST /api/contracts/import) and back out (GET /:id/export.csv)."""

from __future__ import annotations

import csv
import io

from models import Contract
from tests.helpers import new_account, new_contract

PEOPLE = (
    "\ufeffName,Phone,City\n"  # as Excel saves it, with a byte-order mark
    "Anna,+7 999 000-00-01,Omsk\n"
    "Boris,79990000002,Tver\n"
    "\n"
    "Anna again,7 (999) 000-00-01,Omsk\n"
)


async def import_csv(client, body: str | bytes, content_type: str = "text/csv", **params):
    data = body.encode() if isinstance(body, str) else body
    return await client.post(
        "/api/contracts/import", params=params, content=data, headers={"Content-Type": content_type}
    )


async def exported(client, contract: str) -> list[dict[str, str]]:
    r = await client.get(f"/api/contracts/{contract}/export.csv")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.text)))


async def test_an_import_reads_numbers_written_the_russian_way_as_russian(client) -> None:
    account = await new_account(client)
    body = "Телефон;Имя\n8 (915) 915-03-12;Анна\n89992998816;Борис\n+7 916 555-12-34;Вера\n"
    r = await import_csv(client, body.encode("cp1251"), accountId=account, template="Привет, {Имя}!")
    assert r.status_code == 201, r.text
    assert (r.json()["totalCount"], r.json()["rewrittenCount"]) == (3, 2)
    rows = await exported(client, r.json()["id"])
    assert [row["phoneNumber"] for row in rows] == ["79159150312", "79992998816", "79165551234"]


async def test_a_spreadsheet_export_becomes_a_contract_with_templated_messages(client) -> None:
    account = await new_account(client)
    r = await import_csv(client, PEOPLE, accountId=account, name="Omsk", template="Hi {Name} from {City}!")
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["totalCount"], body["status"]) == (2, "PENDING")
    assert body["duplicates"] == [{"index": 2, "phoneNumber": "79990000001", "duplicateOf": 0}]
    rows = await exported(client, body["id"])
    assert [(x["phoneNumber"], x["message"], x["status"]) for x in rows] == [
        ("79990000001", "Hi Anna from Omsk!", "PENDING"),
        ("79990000002", "Hi Boris from Tver!", "PENDING"),
    ]


async def test_named_columns_are_used_as_they_are(client) -> None:
    account = await new_account(client)
    text = 'who,tel,msg\nA,79990000001,"Line one\nline two, with ""quotes"""\n'
    r = await import_csv(client, text, accountId=account, phoneColumn="tel", messageColumn="msg")
    assert r.status_code == 201, r.text
    [row] = await exported(client, r.json()["id"])
    assert row["message"] == 'Line one\nline two, with "quotes"'


async def test_bad_rows_are_named_and_nothing_is_created(client) -> None:
    account = await new_account(client)
    cases = [
        (
            "phone,message\n79990000001,ok\n12,short\n79990000003,\n",
            {},
            ["rows[1].phoneNumber", "rows[2].message"],
        ),
        ("name,message\nA,hi\n", {}, ["phoneColumn"]),
        ("phone,name\n79990000001,A\n", {"template": "Hi {first_name}"}, ["template"]),
        ("phone,message\n79990000001,hi\n", {"messageColumn": "text"}, ["messageColumn"]),
        # UTF-8 as far as its encoding is told from, then a byte that UTF-8 cannot have
        (b"phone,message\n" + b"79990000001,ok\n" * 5000 + b"79990000002,caf\xe9\n", {}, ["file"]),
        ("", {}, ["file"]),
        ("phone,message\n79990000001,a\x00b\n", {}, ["rows[0].message"]),
    ]
    for text, params, fields in cases:
        r = await import_csv(client, text, accountId=account, **params)
        assert r.status_code == 422, (text, r.text)
        assert [d["field"] for d in r.json()["details"]] == fields, (text, r.json())
    assert await Contract.all().count() == 0
    r = await import_csv(client, "phone,message\n79990000001,hi\n", accountId="acc_nope")
    assert r.status_code == 404


async def test_export_is_keyed_and_404s_unknown_contracts(client) -> None:
    contract = await new_contract(client, await new_account(client), n=3)
    assert len(await exported(client, contract)) == 3
    assert (await client.get("/api/contracts/contract_nope/export.csv")).status_code == 404
    assert (await client.anon.get(f"/api/contracts/{contract}/export.csv")).status_code == 401


LIMIT = 20_000  # MAX_RECIPIENTS in tests/conftest.py


async def test_an_unterminated_quote_is_refused_naming_its_row(client) -> None:
    """Python's csv module without strict=True reads an unclosed quote to the end of the file, so the
    next row became part of this row's message and the import said 201 for one recipient."""
    account = await new_account(client)
    for text, field in [
        ('phone,message\n79991234567,"hi\n79991234568,x\n', "rows[0]"),
        ('phone,message\n79991234567,ok\n\n79991234568,"hi\n79991234569,x\n', "rows[1]"),
    ]:
        r = await import_csv(client, text, accountId=account)
        assert r.status_code == 422, r.text
        [problem] = r.json()["details"]
        assert problem["field"] == field and "never closed" in problem["message"], problem
    assert await Contract.all().count() == 0
    closed = 'phone,message\n79991234567,"hi\nthere"\n79991234568,x\n'
    r = await import_csv(client, closed, accountId=account)
    assert (r.status_code, r.json()["totalCount"]) == (201, 2), r.text
    assert [row["message"] for row in await exported(client, r.json()["id"])] == ["hi\nthere", "x"]


async def test_utf_16_declared_without_a_byte_order_mark_is_refused_naming_the_content_type(client) -> None:
    """Python's UTF-16 decoder raised a bare UnicodeError on such a body: it was a 500."""
    account = await new_account(client)
    text = "phone,message\n79991234567,Привет\n"
    r = await import_csv(client, text.encode("utf-16-le"), "text/csv; charset=utf-16", accountId=account)
    assert r.status_code == 422, r.text
    assert r.json()["details"][0]["field"] == "Content-Type"
    assert await Contract.all().count() == 0
    for content_type, body in [
        ("text/csv; charset=utf-16le", text.encode("utf-16-le")),
        ("text/csv; charset=utf-16", text.encode("utf-16")),  # with its byte-order mark
    ]:
        r = await import_csv(client, body, content_type, accountId=account)
        assert r.status_code == 201, (content_type, r.text)
        [row] = await exported(client, r.json()["id"])
        assert row["message"] == "Привет"


async def test_a_file_over_the_recipient_limit_is_refused_naming_the_limit(client) -> None:
    account = await new_account(client)
    rows = "".join(f"7999{i:07d},m\n" for i in range(LIMIT + 1))
    r = await import_csv(client, "phone,message\n" + rows, accountId=account)
    assert r.status_code == 422, r.text
    assert r.json()["details"] == [{"field": "rows", "message": f"at most {LIMIT} rows (one recipient each)"}]
    assert str(LIMIT) in r.json()["error"]
    assert await Contract.all().count() == 0


class Endless(io.RawIOBase):
    """A CSV stream (not seekable) of `rows` rows and then, if `endless`, more rows without end that
    fail the test once read further than a reader's read-ahead past the first `rows`."""

    ROW = b"79990000001,m\n"

    def __init__(self, rows: int, endless: bool) -> None:
        self.head = b"phone,message\n" + self.ROW * rows
        self.endless = endless
        self.at = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:
        if self.at < len(self.head):
            n = min(len(buffer), len(self.head) - self.at)
            buffer[:n] = self.head[self.at : self.at + n]
        elif not self.endless:
            return 0
        elif self.at > len(self.head) + 64 * 1024:
            raise AssertionError("read on past the recipient limit")
        else:
            n = len(buffer) // len(self.ROW) * len(self.ROW)
            buffer[:n] = self.ROW * (n // len(self.ROW))
        self.at += n
        return n


def test_reading_stops_at_the_first_row_past_the_limit() -> None:
    import pytest

    from services.errors import InvalidInput
    from services.recipient_files.api_import import read_recipients

    with pytest.raises(InvalidInput, match=f"more than {LIMIT} rows") as refused:
        read_recipients(io.BufferedReader(Endless(LIMIT, endless=True)))
    assert [p.field for p in refused.value.problems] == ["rows"]
    assert len(read_recipients(io.BufferedReader(Endless(LIMIT, endless=False))).phone_numbers) == LIMIT


async def test_export_defuses_formulas_wherever_a_spreadsheet_may_start_a_cell(client) -> None:
    """A cell starting with = + - @ runs as a formula; Russian Excel splits on `;`, so `x;=1+1`
    would start a cell at `=` (OWASP CSV injection). Other text is left as it is."""
    account = await new_account(client)
    hostile = {
        "=cmd|' /C calc'!A0": "'=cmd|' /C calc'!A0",
        "+1+1": "'+1+1",
        "-2": "'-2",
        "@SUM(A1)": "'@SUM(A1)",
        "\tTab": "'\tTab",
        "<script>alert(1)</script>": "<script>alert(1)</script>",
        ";=1+1": ";'=1+1",
        'Hi;=HYPERLINK("http://evil")': 'Hi;\'=HYPERLINK("http://evil")',
        "a, @SUM(A1)": "a, '@SUM(A1)",
        " =1+1": "' =1+1",
        "\r=1": "'\r'=1",
        "line\n-2": "line\n'-2",
        "pipe|+1": "pipe|'+1",
        "＝1+1": "'＝1+1",
        "x;\u00a0=1": "x;\u00a0'=1",
        'x;"=1+1': "x;\"'=1+1",
        '"=1+1': "'\"=1+1",
        "a - b = c": "a - b = c",  # spaces alone do not start a cell
    }
    body = {
        "accountId": account,
        "name": "hostile",
        "recipients": [{"phoneNumber": f"7999000{i:04d}", "message": m} for i, m in enumerate(hostile)],
    }
    contract = (await client.post("/api/contracts", json=body)).json()["id"]
    messages = [row["message"] for row in await exported(client, contract)]
    assert messages == list(hostile.values())
    text = (await client.get(f"/api/contracts/{contract}/export.csv")).text
    assert text.startswith('"row","phoneNumber"'), "every cell is quoted"
