"""The docs' examples run: every ```python block of these pages, top to bottom, per page."""

import linecache
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
RUN_TOP_TO_BOTTOM = [
    "writing-aggregates.md",
    "payload-guidelines.md",
    "architecture.md",
    "projections.md",
    "notifications.md",
]

pytest_plugins = ["pytester"]


def blocks(page: str) -> list[str]:
    return BLOCK.findall((DOCS / page).read_text())


@pytest.mark.parametrize("page", RUN_TOP_TO_BOTTOM)
def test_the_examples_of_a_page_run(page: str) -> None:
    code = blocks(page)
    assert code, f"{page} has no python examples"
    namespace: dict[str, object] = {"__name__": f"docs_{page.replace('-', '_')[:-3]}"}
    for number, block in enumerate(code, start=1):
        filename = f"<docs/{page}[{number}]>"
        # Let inspect.getsource see the example, as it sees real modules' source.
        linecache.cache[filename] = (len(block), None, block.splitlines(True), filename)
        try:
            exec(compile(block, filename, "exec"), namespace)
        except Exception as error:
            raise AssertionError(f"{page}, example {number} failed: {error!r}") from error


def test_the_example_service_test_in_the_testing_guide_passes(pytester: pytest.Pytester) -> None:
    [example] = blocks("testing.md")
    pytester.makepyfile(test_promotion_service=example)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
