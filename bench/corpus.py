"""Builds the Authentication-Results corpus for bench/compare.sh.

usage: corpus.py VECTORS_DIR EVENTS_DIR OUT_BASE
Writes OUT_BASE: one header value per line (name stripped, folding undone), every distinct
value found in the vectors' extracted header sets and in the bundled events.
"""
import glob
import json
import re
import sys

vectors, events, out = sys.argv[1:4]
values = []


def add(value):
    value = re.sub(r"\r?\n[ \t]+", " ", value).strip()
    if value.lower().startswith("authentication-results:"):
        value = value.split(":", 1)[1].strip()
    if value and "\n" not in value and value not in values:
        values.append(value)


for name in ("authres_oracle_run.json", "lieser_arhParserSpec_headers.json"):
    for case in json.load(open(f"{vectors}/authres/extracted/{name}")):
        add(case["header"])
for case in json.load(open(f"{vectors}/authres/extracted/ses_fixture_auth_headers.json")):
    if case.get("name", "").lower() == "authentication-results":
        add(case["value"])
for path in sorted(glob.glob(f"{events}/*.json")):
    for match in re.finditer(r'"Authentication-Results",\s*"value":\s*"((?:[^"\\]|\\.)*)"', open(path).read()):
        add(json.loads(f'"{match.group(1)}"'))

with open(out, "w") as f:
    f.write("\n".join(values) + "\n")
print(f"{len(values)} distinct header values", file=sys.stderr)
