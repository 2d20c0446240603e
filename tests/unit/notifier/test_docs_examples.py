"""The code in docs/notifier.md and docs/centrifugo.md runs (and checks what it claims)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[3] / "docs"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks(name: str, language: str) -> list[str]:
    return [code for lang, code in FENCE.findall((DOCS / name).read_text()) if lang == language]


PYTHON_EXAMPLES = [
    pytest.param(code, id=f"{name}#{n}")
    for name in ("notifier.md", "centrifugo.md")
    for n, code in enumerate(blocks(name, "python"))
]


def test_the_docs_have_python_examples_to_run() -> None:
    assert len(PYTHON_EXAMPLES) >= 2


@pytest.mark.parametrize("code", PYTHON_EXAMPLES)
def test_a_python_example_in_the_docs_runs(code: str) -> None:
    exec(compile(code, "<docs example>", "exec"), {"__name__": "docs_example"})


@pytest.mark.parametrize("name", ["notifier.md", "centrifugo.md"])
def test_json_blocks_in_the_docs_are_valid_json(name: str) -> None:
    for code in blocks(name, "json"):
        if "…" not in code:  # the message sketch elides its ids
            json.loads(code)
