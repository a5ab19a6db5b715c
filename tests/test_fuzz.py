"""schemathesis against the real web process: every operation of the OpenAPI schema, with generated
valid and invalid input, with and without the key. No server error, no response outside the schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import API_KEY
from tests.helpers import recipients

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def schemathesis(url: str, tmp_path: Path, name: str, config: str, examples: int) -> dict:
    """Run `st run` (CLI, as a user would) and return its JSON report."""
    (tmp_path / f"{name}.toml").write_text(config)
    report = tmp_path / f"{name}.json"
    st = Path(sys.executable).with_name("st")
    args = [str(st), "--config-file", str(tmp_path / f"{name}.toml"), "run", f"{url}/openapi.json"]
    args += ["--checks", CHECKS, "-n", str(examples), "--seed", "1", "-w", "1", "--no-color"]
    args += ["--generation-deterministic", "--report", "json", "--report-json-path", str(report)]
    run = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert report.exists(), run.stdout[-3000:] + run.stderr[-2000:]
    result = json.loads(report.read_text())
    print(f"schemathesis {name}: {result['test_cases']}")  # the figure for docs/RELIABILITY.md
    assert result["failures"] == [] and result["errors"] == [], run.stdout[-6000:]
    assert run.returncode == 0, run.stdout[-3000:]
    return result


async def test_no_generated_request_breaks_the_api_with_the_key(web, tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=web, headers={"X-API-Key": API_KEY}) as http:
        account = (await http.post("/api/accounts", json={"name": "fuzz"})).json()["id"]
        body = {"accountId": account, "name": "fuzz", "recipients": recipients(5)}
        contract = (await http.post("/api/contracts", json=body)).json()["id"]
    config = f"""
headers = {{ "X-API-Key" = "{API_KEY}" }}
[parameters]
"path.account_id" = "{account}"
"path.contract_id" = "{contract}"
"""
    result = schemathesis(web, tmp_path, "with-key", config, examples=40)
    assert result["operations"]["tested"] == result["operations"]["total"] >= 15
    assert result["test_cases"]["generated"] > 500
    assert result["warnings"]["missing_auth"] == [], "with the key, every operation got past auth"


async def test_no_generated_request_gets_past_a_missing_key(web, tmp_path: Path) -> None:
    result = schemathesis(web, tmp_path, "without-key", "", examples=10)
    assert result["test_cases"]["generated"] > 100
    refused = result["warnings"]["missing_auth"]  # operations that answered nothing but 401
    api = [op for op in refused if " /api/" in op]
    assert len(api) == result["operations"]["total"] - 1 == len(refused), "all but /health refuse"
