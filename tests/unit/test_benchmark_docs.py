"""docs/performance.md holds one benchmark block per engine, in the form the benchmark writes, and
`--docs` replaces exactly the block of the engine it ran on."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.bench import benchmark

DOCS = Path(__file__).resolve().parents[2] / "docs" / "performance.md"
PAGE = """# P
intro
<!-- benchmark: 26 -->
old 26
<!-- /benchmark -->
between
<!-- benchmark: 28 -->
old 28
<!-- /benchmark -->
end
"""


def test_replace_block_changes_only_that_engines_table() -> None:
    out = benchmark.replace_block(PAGE, "28", "Measured today\n\n| t |\n")
    assert out == PAGE.replace("old 28\n", "Measured today\n\n| t |\n")
    assert benchmark.replace_block(PAGE, "26", "x") == PAGE.replace("old 26\n", "x\n")


@pytest.mark.parametrize("page", [PAGE.replace("<!-- benchmark: 26 -->\n", ""),
                                  PAGE.split("<!-- /benchmark -->", maxsplit=1)[0]])
def test_replace_block_refuses_a_page_without_the_block(page: str) -> None:
    with pytest.raises(ValueError, match="benchmark: 26"):
        benchmark.replace_block(page, "26", "x")


def test_the_committed_page_has_a_block_per_engine_as_the_benchmark_writes_it() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for engine in ("26", "28"):
        block = text.split(f"<!-- benchmark: {engine} -->\n", 1)[1].split("<!-- /benchmark -->")[0]
        first = block.splitlines()[0]
        assert re.fullmatch(r"Measured [0-9]{4}-[0-9]{2}-[0-9]{2} on [0-9]+ cores, Docker Engine "
                            rf".+ \(BSLIM_ENGINE={engine}\); " + re.escape(benchmark.RATIO),
                            first), first
        assert "| case | side | wall s | ratio |" in block
        # Every row has a ratio: the figures are read against the baseline of the same run.
        rows = [line for line in block.splitlines() if line.startswith("| (")]
        assert rows and all(re.match(r"\| \([a-i]\) \| [^|]+ \| [0-9.]+ \| [0-9.]+ \|", r)
                            for r in rows)
