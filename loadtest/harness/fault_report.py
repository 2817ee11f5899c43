"""report.md of the fault suite: the fault table first (one row per fault, parseable), then each
target with its verdict, the plot, what each fault was, the abusive client's figures, the kinds
of failure seen, and the nothing-lost check."""

from pathlib import Path

from harness.fault_analysis import EVERY_ROW_TARGET
from harness.report import format_ms, markdown_table

FAULT_TABLE_HEADER = ["fault", "window s", "requests", "failures", "seconds with failures",
                      "p99 during ms", "p99 after ms", "acknowledged", "lost", "target met"]


def fault_table(rows: list[dict]) -> list[list]:
    return [[r["fault"], f"{r['start']:.1f}–{r['end']:.1f}", r["requests"], r["failures"],
             r["seconds_with_failures"], format_ms(r["p99_during_ms"]),
             format_ms(r["p99_after_ms"]), r["acknowledged"], r["lost"],
             "–" if r["key"] == "baseline" else ("yes" if r["met"] else "**no**")]
            for r in rows]


def _or_dash(value) -> str:
    return "–" if value is None else f"{value:g}"


def _kinds(kinds: dict) -> str:
    return ", ".join(f"{n}× `{kind}`" for kind, n in kinds.items()) or "none"


def _what_each_fault_was(results: dict) -> list[str]:
    settings = results["settings"]
    rows = {r["key"]: r for r in results["rows"]}
    health = settings["health"]
    lines = ["## What each fault was", ""]
    if "kill" in rows:
        k = rows["kill"]["detail"]
        lines.append(f"- **kill -9**: `SIGKILL` to managed worker slot {k['slot']} (pid "
                     f"{k['pid']}, {k['address']}), its pid read from the admin API's "
                     f"`GET /workers`; the balancer had {k['in_flight_before']} requests in "
                     f"flight on it just before (and {k['in_flight_after']} just after). "
                     f"\"During\" is the {settings['kill_window_s']:g} s after the kill.")
    if "hang" in rows:
        h = rows["hang"]["detail"]
        lines.append(f"- **hung backend**: `SIGSTOP` to worker slot {h['slot']} (pid {h['pid']}, "
                     f"{h['address']}), `SIGCONT` {h['resumed_at'] - h['at']:.1f} s later. "
                     "Requests it had accepted wait for it; the balancer's active checks "
                     f"(`GET {health.get('path', '/readyz')}` every {health['interval_ms']} ms, "
                     f"timeout {health['timeout_ms']} ms, down after {health['fall']}, up after "
                     f"{health['rise']}) should take it out and bring it back.")
    if "store" in rows:
        lines.append(
            f"- **store unavailable** means, here: the stack uses the embedded SQLite store (no "
            "MongoDB server runs on this machine), and another process "
            "(`harness/store_lock.py`) opened the same database file and held SQLite's write "
            f"lock (`BEGIN IMMEDIATE`) for {settings['store_outage_s']:g} s, as an operator's "
            "`sqlite3` shell left in a transaction or a backup tool would. The workers' commits "
            "wait their busy timeout (5 s) and then fail; reads go on (WAL readers never wait "
            "for the writer), so `/readyz` stays green. It is not a crashed or unreachable "
            "database server, a full disk or a lost replica-set majority.")
    if "abuse" in rows:
        abuse = results["abuse"]
        sources = abuse["sources"]
        lines.append(
            f"- **abusive client mix** for {abuse['duration_s']:g} s from loopback addresses "
            f"other than the legitimate load's 127.0.0.1 (`harness/abuse.py`): aborted and "
            f"garbled chunked uploads of up to 128 KiB to `POST /analyze`, six at a time "
            f"(from {sources['uploads']}); {abuse['slowloris_connections']} slowloris "
            f"connections trickling a head byte by byte ({sources['slowloris']}); oversized "
            f"bodies and headers ({sources['oversized']}); garbage request lines and heads "
            f"({sources['garbage']}); {abuse['idle_requested']:,} idle connections spread over "
            f"{sources['idle']}, each reopened when the server closes it.")
    return lines + [""]


def _abuse_figures(abuse: dict) -> list[str]:
    parts = abuse["parts"]
    lines = ["## Abusive client figures", "",
             "What the server answered the abusive client (`closed`: closed without an answer; "
             "`no answer`: nothing within 3 s; `aborted`: the client reset the upload).", ""]
    lines += markdown_table(["part", "attempts", "outcomes"],
                    [[name, part["attempts"], _kinds(part["outcomes"])]
                     for name, part in parts.items()])
    idle = parts["idle"]
    all_open = (f"all {abuse['idle_requested']:,} open after "
                f"{idle['seconds_until_all_open']:g} s" if idle["seconds_until_all_open"]
                is not None else f"never all {abuse['idle_requested']:,} at once")
    lines += [f"Idle connections: peak {idle['peak_open']:,} open at once ({all_open}); "
              f"{idle['closed_by_server']:,} closed by the server, after a median "
              f"{_or_dash(idle['median_s_before_server_closed'])} s. Slowloris connections were "
              f"held a median {_or_dash(parts['slowloris']['median_s_held'])} s before the server "
              "answered or closed them.", ""]
    return lines


def render(results: dict, images: dict[str, str]) -> str:
    meta, settings, rows = results["meta"], results["settings"], results["rows"]
    missed = [r for r in rows if r["key"] != "baseline" and not r["met"]]
    out = [f"# Fault and abuse report: {meta['suite']} suite", "",
           f"Run {meta['started']} against `{meta['host']}` ({meta['target']}); took "
           f"{meta['duration_s']:.0f} s. Command: `{meta['command']}`.", "",
           f"Legitimate load: locust, {settings['users']} users each running "
           f"{settings['tasks_per_s']:g} tasks/s (constant throughput), an offered "
           f"{settings['offered_rps']:g} requests/s from 127.0.0.1, {settings['processes']} "
           f"locust processes, {meta['task_weights']}; locust CPU warnings: "
           f"{results['cpu_warnings']}. Requests are placed in the window where they started.",
           "", "## Fault table", ""]
    out += markdown_table(FAULT_TABLE_HEADER, fault_table(rows))
    out += [f"Targets met: {len(rows) - 1 - len(missed)} of {len(rows) - 1}. "
            f"Analyses acknowledged: {results['lost']['checked']}, missing from history: "
            f"{results['lost']['missing']}.", "", "## Targets", ""]
    out += markdown_table(["fault", "target (issue 10)", "met", "what happened"],
                  [[r["fault"], r["target"], "–" if r["key"] == "baseline" else
                    ("yes" if r["met"] else "**no**"), r["verdict"]] for r in rows])
    out += [f"![failures over time]({images['faults']})", "",
            "Shaded: the fault windows (a kill is an instant; its first second is shaded). "
            "Bottom: healthy backends as the admin API reported them every "
            f"{results['monitor_interval_s']:g} s.", ""]
    out += _what_each_fault_was(results)
    out += _abuse_figures(results["abuse"])
    out += ["## Failures seen by the legitimate load", "",
            "Status, the JSON `error` code and whether `Retry-After` came (`0 <exception>`: no "
            "HTTP answer).", ""]
    out += markdown_table(["fault", "during", "after"],
                  [[r["fault"], _kinds(r["kinds_during"]), _kinds(r["kinds_after"])]
                   for r in rows])
    lost = results["lost"]
    out += ["## Nothing lost", "",
            f"Every analysis answered 200 was recorded by id with the time its request started, "
            "then history was paged (`limit=500`, `Link rel=next`, `Cache-Control: no-cache`). "
            f"{EVERY_ROW_TARGET} is a target of every row.", ""]
    out += markdown_table(["checked", "missing", "history pages read", "rows read"],
                  [[lost["checked"], lost["missing"], lost["pages_read"], lost["rows_read"]]])
    if lost["missing"]:
        out += [f"Missing ids (first 20): {', '.join(lost['missing_sample'])}", ""]
    out += ["## Machine and versions", ""]
    out += markdown_table(["Item", "Value"], [[k, v] for k, v in results["environment"].items()])
    out += ["Locust, the abusive client, the balancer and its workers share this machine's CPUs.",
            ""]
    return "\n".join(out)


def write(results: dict, images: dict[str, str], directory: Path) -> Path:
    path = directory / "report.md"
    path.write_text(render(results, images), encoding="utf-8")
    return path
