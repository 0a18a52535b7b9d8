#!/usr/bin/env python3
"""Writes the seed corpora of the cargo-fuzz targets (fuzz/fuzz_targets/) from what the project
already has: the case files, and the transcripts of JSON reports (`wirecheck run --json`, e.g.
the interop runs in reports/interop/). Output: fuzz/corpus/<target>/<sha1> (not committed).

    scripts/fuzz-seeds.py [REPORT.json ...]     # default: reports/interop/*.json if present
"""
import glob
import hashlib
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")
counts = {}


def put(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)
    counts[target] = counts.get(target, 0) + 1


cases = sorted(glob.glob(os.path.join(ROOT, "cases", "**", "*.yaml"), recursive=True))
for path in cases:
    text = open(path, encoding="utf-8").read()
    put("case_loader", text)
    for hexs in re.findall(r'bytes:\s*"([0-9a-fA-F ]+)"', text):
        raw = bytes.fromhex(hexs.replace(" ", ""))
        v5 = 'version: "5.0"' in text
        # mode byte: bit 0 = 5.0, bit 1 = client-to-server; whole and in 1-byte chunks
        put("mqtt_decode", bytes([(1 if v5 else 0) | 2]) + raw)
        put("mqtt_decode", bytes([(1 if v5 else 0) | 2 | 4]) + raw)
    for xml in re.findall(r'xml:\s*"(<.*?)"\s*[,}]', text):
        put("xmpp_framing", xml)

reports = sys.argv[1:] or sorted(glob.glob(os.path.join(ROOT, "reports", "interop", "*.json")))
for path in reports:
    report = json.load(open(path, encoding="utf-8"))
    for case in report.get("cases", []):
        v5 = ".v5" in case.get("group", "") or case["id"].startswith("mqtt5.")
        for entry in case.get("transcript", []):
            raw = (entry.get("raw") or {})
            data = (entry.get("message") or {}).get("data")
            mqtt = case["id"].startswith("mqtt")
            if "bytes" in raw and mqtt:
                direction = 0 if entry.get("direction") == "received" else 2
                put("mqtt_decode", bytes([(1 if v5 else 0) | direction]) + bytes.fromhex(raw["bytes"]))
            elif "bytes" in raw:
                text = bytes.fromhex(raw["bytes"])
                put("xmpp_framing", text)
                if entry.get("direction") == "received":
                    put("matcher", text + b"\0" + text)
            if mqtt and isinstance(data, dict) and entry.get("direction") == "received":
                actual = json.dumps(data)
                pattern = json.dumps({k: data[k] for k in list(data)[:2]})
                put("matcher", pattern + "\0" + actual)

for target in ("mqtt_decode", "mqtt_roundtrip", "xmpp_framing", "case_loader", "matcher"):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
print(" ".join(f"{t}: {n}" for t, n in sorted(counts.items())), "->", OUT)
