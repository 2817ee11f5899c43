"""Nothing lost: every analysis acknowledged with 200 must be found in history afterwards.

History is paged newest first through the balancer with `Cache-Control: no-cache`, which the
balancer's cache treats as a bypass (so the pages come from the store, not a 2 s cached copy),
following the `Link: <...>; rel="next"` header until every id was seen or history ends."""

import json
import re
import time
import urllib.parse
import urllib.request

PAGE_LIMIT = 500
MAX_PAGES = 20_000
TIME_LIMIT_S = 300
NEXT_LINK = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


class HistoryError(RuntimeError):
    """History could not be read to the end within the bounds."""


def next_link(header: str | None) -> str | None:
    if not header:
        return None
    match = NEXT_LINK.search(header)
    return match.group(1) if match else None


def check(host: str, acknowledged: set[str]) -> dict:
    missing, pages, rows = find_missing(host, acknowledged)
    return {"checked": len(acknowledged), "missing": len(missing),
            "missing_sample": sorted(missing)[:20], "pages_read": pages, "rows_read": rows}


def find_missing(host: str, acknowledged: set[str]) -> tuple[set[str], int, int]:
    """(the acknowledged ids not found in history, pages read, rows read)."""
    missing = set(acknowledged)
    path = f"/history?limit={PAGE_LIMIT}"
    pages = rows = 0
    deadline = time.monotonic() + TIME_LIMIT_S
    while path and missing:
        if pages >= MAX_PAGES or time.monotonic() > deadline:
            raise HistoryError(f"history not read to the end after {pages} pages")
        request = urllib.request.Request(
            urllib.parse.urljoin(host, path),
            headers={"Cache-Control": "no-cache", "Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            page = json.load(response)
            path = next_link(response.headers.get("Link"))
        pages += 1
        rows += len(page)
        missing.difference_update(item["id"] for item in page)
        if not page:
            break
    return missing, pages, rows
