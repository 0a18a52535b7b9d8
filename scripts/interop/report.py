#!/usr/bin/env python3
"""Generates reports/interop-mqtt.md (or -xmpp.md) from the JSON reports of scripts/interop-mqtt.sh (-xmpp.sh).

Reads runs.tsv (one row per broker x transport x version: status and JSON report path) and the
hand-kept explanations file (reports/interop-mqtt-notes.yaml), and writes a Markdown matrix of
cases x (broker, transport, version) plus, for every non-pass, the failing statements and the
explanation. Python 3 standard library only: the notes file is a small YAML subset (a list of
flat maps with scalar values), parsed here.
"""

import argparse
import csv
import json
import os
import re
import sys
from collections import OrderedDict

CATEGORIES = {
    "broker-bug": "broker bug",
    "optional": "optional feature / behaviour the spec leaves open",
    "wirecheck": "wirecheck's own mistake",
}
NOTE_KEYS = {"case", "broker", "transport", "version", "category", "note"}
CELL = {
    "pass": "pass",
    "fail": "**FAIL**",
    "error": "*error*",
    "skip": "skip",
    "xfail": "xfail",
    "xpass": "**XPASS**",
    "interrupted": "*interrupted*",
}


class NotesError(Exception):
    """A mistake in the notes file, with its line number."""


def scalar(text, lineno):
    """One YAML scalar: "double-quoted" (JSON escapes), 'single-quoted' or plain."""
    text = text.strip()
    if text.startswith('"'):
        try:
            value, end = json.JSONDecoder().raw_decode(text)
        except ValueError as e:
            raise NotesError(f"line {lineno}: bad double-quoted string: {e}") from None
        rest = text[end:].strip()
        if rest and not rest.startswith("#"):
            raise NotesError(f"line {lineno}: text after the closing quote: {rest!r}")
        return value
    if text.startswith("'"):
        m = re.match(r"'((?:[^']|'')*)'\s*(#.*)?$", text)
        if not m:
            raise NotesError(f"line {lineno}: bad single-quoted string")
        return m.group(1).replace("''", "'")
    return re.sub(r"\s+#.*$", "", text).strip()


def parse_notes(path):
    """The notes file: a YAML list of maps `- case: ... broker: ... category: ... note: ...`."""
    if not os.path.exists(path):
        return []
    entries, current = [], None
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#") or line.strip() == "---":
                continue
            m = re.match(r"^(- |  )([a-z_]+):(\s.*|)$", line)
            if not m:
                raise NotesError(f"{path}:{lineno}: expected '- key: value' or '  key: value'")
            start, key, value = m.group(1), m.group(2), m.group(3)
            if start == "- ":
                current = {"_line": lineno}
                entries.append(current)
            elif current is None:
                raise NotesError(f"{path}:{lineno}: a key before the first '- '")
            if key not in NOTE_KEYS:
                raise NotesError(f"{path}:{lineno}: unknown key {key!r} (known: {sorted(NOTE_KEYS)})")
            if key in current:
                raise NotesError(f"{path}:{lineno}: {key!r} given twice")
            current[key] = scalar(value, f"{path}:{lineno}")
    for e in entries:
        where = f"{path}:{e['_line']}"
        for k in ("case", "broker", "category", "note"):
            if not e.get(k):
                raise NotesError(f"{where}: missing {k!r}")
        if e["category"] not in CATEGORIES:
            raise NotesError(f"{where}: category must be one of {sorted(CATEGORIES)}")
        e.setdefault("transport", "*")
        e.setdefault("version", "*")
    return entries


def glob_match(pattern, value):
    """`*` matches anything; otherwise a shell-style glob over the whole value."""
    regex = "".join(".*" if ch == "*" else re.escape(ch) for ch in pattern)
    return re.fullmatch(regex, value) is not None


def find_note(notes, case, broker, transport, version):
    """The first notes entry that covers this case on this run (most specific first)."""
    hits = [
        n for n in notes
        if glob_match(n["case"], case) and glob_match(n["broker"], broker)
        and glob_match(n["transport"], transport) and glob_match(n["version"], version)
    ]
    hits.sort(key=lambda n: (n["broker"] == "*", n["case"].count("*"), n["transport"] == "*",
                             n["version"] == "*", n["_line"]))
    return hits[0] if hits else None


def md(text):
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def failure_lines(case):
    """One line per failed check: the statement ids and wirecheck's message."""
    out = []
    for f in case.get("failures", []):
        spec = ", ".join(f.get("spec", [])) or "(no statement)"
        msg = f.get("message", "")
        if f.get("actual") and f.get("kind") == "expectation":
            msg += f" (actual: {f['actual']})"
        out.append(f"[{spec}] {msg}")
    if not out and case.get("reason"):
        out.append(case["reason"])
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", required=True)
    ap.add_argument("--notes", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--root", default=".", help="the repository (JSON paths in runs.tsv are relative to it)")
    ap.add_argument("--protocol", default="MQTT", choices=["MQTT", "XMPP"], help="the protocol of the runs")
    args = ap.parse_args()
    proto = args.protocol
    low = proto.lower()
    root = args.root

    try:
        notes = parse_notes(args.notes)
    except NotesError as e:
        sys.exit(f"report.py: {e}")
    with open(args.runs, encoding="utf-8") as f:
        runs = list(csv.DictReader(f, delimiter="\t"))

    columns, results, titles, versions_seen, not_run = [], {}, OrderedDict(), [], []
    meta = {}
    for r in runs:
        col = (r["broker"], r["transport"], r["version"])
        if r["status"] != "ran":
            not_run.append((col, r["profile"], r["status"]))
            continue
        with open(os.path.join(root, r["json"]), encoding="utf-8") as f:
            rep = json.load(f)
        columns.append(col)
        meta[col] = (r["profile"], r["exit"], rep.get("totals", {}), rep.get("wirecheck", "?"))
        for c in rep.get("cases", []):
            titles.setdefault(c["id"], c.get("title", ""))
            results[(c["id"], col)] = c
        if r["version"] not in versions_seen:
            versions_seen.append(r["version"])

    lines = [
        f"# {proto} interop matrix",
        "",
        f"Generated by `scripts/interop-{low}.sh` (generator: `scripts/interop/report.py`) from the JSON",
        "reports of one run; do not edit by hand. Explanations of non-passes come from",
        f"`reports/interop-{low}-notes.yaml`, which is kept by hand and survives regeneration.",
        "",
        "Cells: pass, **FAIL** (a check failed), *error* (the case could not be run), skip, xfail",
        "(a declared deviation), **XPASS**, or `-` (the case was not in that run).",
        "Categories: " + "; ".join(f"`{k}` = {v}" for k, v in CATEGORIES.items()) + ".",
        "",
        "## Runs",
        "",
        f"| server | transport | {proto} | profile | exit | pass | fail | error | skip | xfail |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for col in columns:
        profile, code, t, _ = meta[col]
        lines.append(
            f"| {col[0]} | {col[1]} | {col[2]} | `{profile}` | {code} | {t.get('passed', 0)} | "
            f"{t.get('failed', 0)} | {t.get('errors', 0)} | {t.get('skipped', 0)} | {t.get('xfailed', 0)} |"
        )
    for col, profile, status in not_run:
        lines.append(f"| {col[0]} | {col[1]} | {col[2]} | `{profile}` | {md(status)} | | | | | |")

    for version in versions_seen:
        cols = [c for c in columns if c[2] == version]
        ids = sorted({cid for (cid, col) in results if col in cols})
        lines += ["", f"## {proto} {version}: cases x (server, transport)", ""]
        lines.append("| case | " + " | ".join(f"{b}<br>{t}" for b, t, _ in cols) + " |")
        lines.append("|---|" + "---|" * len(cols))
        for cid in ids:
            cells = []
            for col in cols:
                c = results.get((cid, col))
                if c is None:
                    cells.append("-")
                    continue
                cell = CELL.get(c["verdict"], c["verdict"])
                if c["verdict"] != "pass":
                    n = find_note(notes, cid, *col)
                    if n:
                        cell += f" ({n['category']})"
                    elif c["verdict"] not in ("skip", "xfail"):
                        cell += " (?)"
                cells.append(cell)
            lines.append(f"| `{cid}` | " + " | ".join(cells) + " |")

    lines += ["", "## Non-passes", ""]
    used, unexplained, count = set(), 0, 0
    for cid in sorted(titles):
        rows = []
        for col in columns:
            c = results.get((cid, col))
            if c is None or c["verdict"] == "pass":
                continue
            count += 1
            n = find_note(notes, cid, *col)
            if n:
                used.add(id(n))
                why = f"{CATEGORIES[n['category']]}: {n['note']}"
            elif c["verdict"] == "xfail" and c.get("reason"):
                why = f"declared in the profile: {c['reason']}"
            elif c["verdict"] == "skip" and c.get("reason"):
                why = f"skipped by wirecheck: {c['reason']}"
            else:
                unexplained += 1
                why = f"**no explanation yet** (add one to reports/interop-{low}-notes.yaml)"
            rows.append((col, c, why))
        if not rows:
            continue
        lines += [f"### `{cid}`", "", md(titles[cid]), ""]
        for (b, t, v), c, why in rows:
            lines.append(f"* **{b} {t}** ({proto} {v}): {c['verdict']}")
            for fl in failure_lines(c):
                lines.append(f"  * {fl}")
            lines.append(f"  * explanation: {why}")
        lines.append("")
    if count == 0:
        lines.append("None.")
    stale = [n for n in notes if id(n) not in used]
    lines += ["", "## Notes entries that matched no non-pass in this run", ""]
    if stale:
        for n in stale:
            lines.append(f"* `{n['case']}` on {n['broker']} {n['transport']} {n['version']} "
                         f"(notes line {n['_line']}): {md(n['note'])}")
    else:
        lines.append("None.")
    lines.append("")
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print(f"report.py: wrote {args.out}: {len(columns)} runs, {len(titles)} cases, {count} non-passes "
          f"({unexplained} without explanation), {len(not_run)} runs not run, {len(stale)} unused notes")


if __name__ == "__main__":
    main()
