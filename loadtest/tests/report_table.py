"""Reads the headline table of a report.md back into numbers (what a reader or CI would parse)."""

import re
from pathlib import Path

NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def headline(report: Path) -> dict[str, str]:
    text = report.read_text(encoding="utf-8")
    section = text.split("## Headline", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and cells[0] not in ("Question", "---"):
            rows[cells[0]] = cells[1]
    return rows


def leading_number(cell: str) -> float:
    match = NUMBER.match(cell)
    if match is None:
        raise ValueError(f"no leading number in {cell!r}")
    return float(match.group())
