"""Memory of the web process while it reads imports that are as large as allowed, or larger.

The real web process (main.py) gets `POST /api/contracts/import` with: a 1,000,000-row CSV (the largest
accepted), a 5,000,000-row CSV (refused), and three 5,000,000-row CSVs at once (refused). The wizard's
reading function (wizard_table.from_upload, given the file the way ui/pages/wizard.py gives it) runs
in a subprocess of its own, as the web process would run it: XLSX workbooks of 3,000,000 rows (one
tiny and repetitive, one of distinct rows), a 1,000,000-row XLSX and CSV, and the 5,000,000-row CSV;
and the worst cases of each size bound in settings.py: a CSV of Cyrillic rows as large as accepted, an
XLSX of one row and 3,000,000 distinct shared strings, and an XLSX at every bound at once (shared
strings, styles, CSV text, rows and blank rows).

RSS of the process and its children (the number-check pool) is sampled every 50 ms; each case runs in
a fresh process, and is told as peak − idle, idle being that process's RSS at rest just before.

.venv/bin/python -m bench.import_memory
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from itertools import chain, islice, repeat
from pathlib import Path

import httpx
import psutil

from bench.harness import Stack, machine, parser
from settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = "Hello {name}, your order is ready."


def rows_csv(rows: int) -> bytes:
    """phone,name,city,note: 46 bytes a row, as in the issue (5,000,000 rows = 229 MB)."""
    lines = ["phone,name,city,note"]
    lines += [f"7999{i % 10**7:07d},Customer {i:07d},Omsk,order ready" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def xlsx(
    path: Path,
    rows: int,
    distinct: bool,
    *,
    strings: int = 0,
    message: str = "",
    blank: int = 0,
    formats: int = 0,
    stored: bool = False,
) -> Path:
    """A minimal workbook written directly (openpyxl takes minutes for millions of rows): its sheet has
    a header and `rows` rows, each a phone number and a name, or all the same phone number; each row
    also `message` (inline) if given, then `blank` rows with an empty cell. With `strings`, a shared
    strings table of that many distinct short strings (the rows' names refer to them in turn); with
    `formats`, that many empty cell formats in styles.xml. `stored`: not compressed."""
    pkg = "http://schemas.openxmlformats.org/package/2006"
    office = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    xml = '<?xml version="1.0" encoding="UTF-8"?>'
    kind = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    overrides = (
        ""
        if not strings
        else f'<Override PartName="/xl/sharedStrings.xml" ContentType="{kind}.sharedStrings+xml"/>'
    )
    parts = {
        "[Content_Types].xml": f'{xml}<Types xmlns="{pkg}/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        f'<Override PartName="/xl/workbook.xml" ContentType="{kind}.sheet.main+xml"/>{overrides}'
        f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{kind}.worksheet+xml"/></Types>',
        "_rels/.rels": f'{xml}<Relationships xmlns="{pkg}/relationships"><Relationship Id="rId1" '
        f'Type="{office}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'{xml}<workbook xmlns="{main}" xmlns:r="{office}"><sheets><sheet name="Sheet1" '
        'sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'{xml}<Relationships xmlns="{pkg}/relationships"><Relationship '
        f'Id="rId1" Type="{office}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
    }
    if formats:
        parts["xl/styles.xml"] = (
            f'{xml}<styleSheet xmlns="{main}"><cellXfs count="{formats}">{"<xf/>" * formats}</cellXfs>'
            "</styleSheet>"
        )
    digits = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

    def short(i: int) -> str:  # the shortest distinct strings
        out = digits[i % 62]
        while i := i // 62:
            out += digits[i % 62]
        return out

    def chunks(items: Iterator[str]) -> Iterator[bytes]:
        while batch := "".join(islice(items, 10_000)):
            yield batch.encode()

    note = f'<c t="inlineStr"><is><t>{message}</t></is></c>' if message else ""
    name = '<c t="s"><v>{}</v></c>' if strings else '<c t="inlineStr"><is><t>Customer {}</t></is></c>'
    data = (
        f"<row><c><v>7999{i % 10**7:07d}</v></c>{name.format(i % strings if strings else i)}{note}</row>"
        if distinct
        else "<row><c><v>79991234567</v></c></row>"
        for i in range(rows)
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED) as z:
        for part, text in parts.items():
            z.writestr(part, text)
        if strings:
            with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as table:
                table.write(f'{xml}<sst xmlns="{main}">'.encode())
                for chunk in chunks(f"<si><t>{short(i)}</t></si>" for i in range(strings)):
                    table.write(chunk)
                table.write(b"</sst>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(
                f'{xml}<worksheet xmlns="{main}"><sheetData><row><c t="inlineStr"><is><t>phone</t></is></c>'
                '<c t="inlineStr"><is><t>name</t></is></c></row>'.encode()
            )
            for chunk in chunks(chain(data, repeat("<row><c/></row>", blank))):
                sheet.write(chunk)
            sheet.write(b"</sheetData></worksheet>")
    return path


def cyrillic_csv(path: Path, rows: int, most: int) -> Path:
    """A CSV of `rows` rows of a number and a Cyrillic message (2 bytes a character in UTF-8), each as
    long as fits in `most` bytes: the worst case for a table kept as text."""
    header = "phone,message\n"
    budget = (most - len(header)) // rows - len("79990000000,\n")  # bytes of message a row
    text = ("Здравствуйте, ваш заказ готов к выдаче. " * (budget // 20 + 1))[:budget]
    while len(text.encode()) > budget:
        text = text[:-1]
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write(header)
        for i in range(0, rows, 10_000):
            f.write("".join(f"7999{j % 10**7:07d},{text}\n" for j in range(i, min(i + 10_000, rows))))
    assert path.stat().st_size <= most, path.stat().st_size
    return path


class Sampler:
    """RSS of a process and all its children, every 50 ms, in a thread: the largest seen, in MiB."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def rss(self) -> float:
        total = 0
        for p in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        return total / 2**20

    def idle(self, seconds: float = 2.0) -> float:
        readings = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            readings.append(self.rss())
            time.sleep(0.05)
        return max(readings)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.05)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())


def report(what: str, idle: float, peak: float, seconds: float, outcome: str) -> None:
    print(
        f"{what}: idle {idle:.0f} MiB, peak {peak:.0f} MiB -> peak - idle {peak - idle:+.0f} MiB "
        f"({seconds:.1f} s, {outcome})",
        flush=True,
    )


async def api_case(stack: Stack, what: str, bodies: list[bytes]) -> None:
    base = stack.web()
    web = stack.processes[-1]
    headers = {"X-API-Key": stack.key}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=1200) as http:
        account = (await http.post("/api/accounts", json={"name": "bench"})).json()["id"]
        params = {"accountId": account, "template": TEMPLATE}

        async def upload(body: bytes) -> httpx.Response:
            h = {"content-type": "text/csv"}
            return await http.post("/api/contracts/import", params=params, content=body, headers=h)

        warm = await upload(rows_csv(1000))
        assert warm.status_code == 201, warm.text[:300]
        sampler = Sampler(web.proc.pid)
        idle = await asyncio.to_thread(sampler.idle)
        start = time.perf_counter()
        with sampler:
            answers = await asyncio.gather(*(upload(b) for b in bodies))
        seconds = time.perf_counter() - start
    web.stop()
    stack.processes.remove(web)
    outcome = ", ".join(f"{r.status_code} {r.json().get('error', '')[:60]}".strip() for r in answers)
    report(what, idle, sampler.peak, seconds, outcome)


WIZARD = """
import inspect, sys, time
from services.recipient_files import wizard_table
name, path = sys.argv[1], sys.argv[2]
print("ready", flush=True)
sys.stdin.readline()
# As ui/pages/wizard.py gives it: the uploaded file (now), or its bytes (before this change).
by_file = "from_csv_file" in dir(wizard_table)
start = time.perf_counter()
try:
    with open(path, "rb") as f:
        table = wizard_table.from_upload(name, f if by_file else f.read())
    outcome = f"accepted, {table.count:,} rows"
except Exception as exc:
    outcome = f"refused: {exc}"
print(f"{time.perf_counter() - start:.1f} {outcome[:120]}", flush=True)
sys.stdin.readline()
"""


def wizard_case(stack: Stack, what: str, name: str, path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WIZARD, name, str(path)],
        cwd=ROOT,
        env=stack.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin and proc.stdout
    try:
        assert proc.stdout.readline().strip() == "ready"
        sampler = Sampler(proc.pid)
        idle = sampler.idle()
        with sampler:
            proc.stdin.write("go\n")
            proc.stdin.flush()
            seconds, outcome = proc.stdout.readline().strip().split(" ", 1)
        proc.stdin.write("done\n")
        proc.stdin.flush()
    finally:
        proc.wait(timeout=60)
    size = path.stat().st_size / 2**20
    report(f"{what} ({size:,.1f} MiB)", idle, sampler.peak, float(seconds), outcome)


async def main() -> None:
    p = parser(__doc__)
    p.add_argument("--skip-api", action="store_true")
    p.add_argument("--skip-wizard", action="store_true")
    args = p.parse_args()
    print(f"machine: {machine()}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="wa-bench-import-"))
    async with Stack(args.database, args.redis) as stack:
        stack.env["MAX_RECIPIENTS"] = "1000000"
        big = rows_csv(5_000_000)
        million = rows_csv(1_000_000)
        print(f"CSV sizes: 1M rows {len(million) / 2**20:.0f} MiB, 5M rows {len(big) / 2**20:.0f} MiB")
        if not args.skip_api:
            await api_case(stack, "API import, 1,000,000-row CSV", [million])
            await api_case(stack, "API import, 5,000,000-row CSV", [big])
            await api_case(stack, "API import, three 5,000,000-row CSVs at once", [big, big, big])
        if not args.skip_wizard:
            (tmp / "5m.csv").write_bytes(big)
            (tmp / "1m.csv").write_bytes(million)
            del big, million
            wizard_case(
                stack,
                "wizard reading, 3,000,000-row XLSX, one number repeated",
                "x.xlsx",
                xlsx(tmp / "3m-same.xlsx", 3_000_000, distinct=False),
            )
            wizard_case(
                stack,
                "wizard reading, 3,000,000-row XLSX, distinct rows",
                "x.xlsx",
                xlsx(tmp / "3m.xlsx", 3_000_000, distinct=True),
            )
            wizard_case(
                stack,
                "wizard reading, 1,000,000-row XLSX",
                "x.xlsx",
                xlsx(tmp / "1m.xlsx", 1_000_000, distinct=True),
            )
            s = get_settings()
            wizard_case(
                stack,
                "wizard reading, 1,000,000-row CSV of Cyrillic messages at max_upload_bytes",
                "x.csv",
                cyrillic_csv(tmp / "cyrillic.csv", 1_000_000, s.max_upload_bytes),
            )
            wizard_case(
                stack,
                "wizard reading, XLSX (stored) of one row and 3,000,000 distinct shared strings",
                "x.xlsx",
                xlsx(tmp / "strings.xlsx", 1, distinct=True, strings=3_000_000, stored=True),
            )
            wizard_case(
                stack,
                "wizard reading, XLSX at every bound: shared strings, styles, CSV text, 1,000,000 rows + "
                "999,000 blank",
                "x.xlsx",
                xlsx(
                    tmp / "worst.xlsx",
                    1_000_000,
                    distinct=True,
                    strings=(s.max_xlsx_strings_bytes - 200) // 21,  # entries of 19 to 21 bytes
                    message="x" * (s.max_xlsx_text_bytes // 1_000_000 - 30),
                    blank=999_000,
                    formats=(s.max_xlsx_part_bytes - 3000) // 5,
                ),
            )
            wizard_case(stack, "wizard reading, 5,000,000-row CSV", "x.csv", tmp / "5m.csv")
            wizard_case(stack, "wizard reading, 1,000,000-row CSV", "x.csv", tmp / "1m.csv")
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()


if __name__ == "__main__":
    asyncio.run(main())
