"""Recipients from files: a CSV body sent to the API, or a CSV or XLSX file uploaded (or rows pasted)
in the dashboard's new-contract wizard.

- csv_rows: what both share: CSV rows read from UTF-8 (a quote never closed refused naming its row),
  the phone and message columns guessed, a {column} template filled, the refusals of a file too large,
  and an upload spooled to a temporary file.
- api_import: the API's import (POST /api/contracts/import): phone numbers and messages of every row,
  reading stopped at the recipient limit.
- wizard_table: the wizard's Table (kept as the CSV bytes it came in), read from CSV text or an
  upload, and the check of every row before a contract is created.
- xlsx: an XLSX workbook's first sheet as CSV, within size bounds checked from the zip directory
  before openpyxl opens it, and a fix for openpyxl's read-only sheets.
"""
