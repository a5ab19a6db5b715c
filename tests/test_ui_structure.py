"""The dashboard's code stays in small parts: no function in ui/ (nested ones and methods included)
is longer than MAX_LINES, so each page reads as one function per section or step."""

from __future__ import annotations

import ast
from pathlib import Path

UI = Path(__file__).resolve().parent.parent / "ui"
MAX_LINES = 60


def long_functions(root: Path) -> list[str]:
    """`file:function (n lines)` for each function under `root` longer than MAX_LINES."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_LINES:
                    found.append(f"{path.relative_to(root.parent)}:{node.name} ({lines} lines)")
    return found


def test_no_ui_function_is_longer_than_sixty_lines() -> None:
    too_long = long_functions(UI)
    assert not too_long, f"longer than {MAX_LINES} lines: {', '.join(too_long)}"
