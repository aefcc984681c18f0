#!/usr/bin/env python3
"""Runs every shipped Athena query (queries/*.sql) with DuckDB over the report rows the CLI
writes from the bundled fixtures, and compares each result with the one worked out by hand
from the fixtures' own descriptions (fixtures/make_week.py's docstring, the comments atop
fixtures/reports/*.xml). The view is the one docs/analytics.md gives for local use:

    CREATE VIEW report_rows AS SELECT * FROM read_json_auto('<rows>')

A query without an expected result here fails the check: none ships untested. The rows
must also fit the Glue table template.yaml declares: its columns, in order, then `dt`, its
partition key, with every value of the column's type.

usage: python3 scripts/check_queries.py CLI     (CLI: the ses-dmarc-monitor binary)
exits non-zero naming each query whose result differs.
"""
import glob
import json
import os
import subprocess
import sys
import tempfile

import duckdb

INPUTS = ["fixtures/week", "fixtures/reports"]
# The custom MAIL FROM the fixtures' example.com uses (make_week.py).
OPTIONS = ["--mail-from", "example.com=mail.example.com"]

WEEK = ("2026-11-23", "2026-11-29")
NOVEMBER = ("2026-11-01", "2026-11-30")
REQUIREMENT = "Sender requirement failed: 550-5.7.26 DMARC check did not pass for example.com"

# query file: (parameters, rows expected, in order)
EXPECTED = {
    # The week's failing sources: SendGrid on Thursday and Friday (60 + 45); the spoofer's
    # two addresses on Saturday (8, 4) and Sunday at Outlook (3); the mailing list on Tuesday.
    "failing-sources.sql": (WEEK, [
        ("example.com", "167.89.100.1", "known", "SendGrid", 105, 1, "2026-11-26", "2026-11-27"),
        ("example.com", "203.0.113.66", "unknown", None, 11, 2, "2026-11-28", "2026-11-29"),
        ("example.com", "198.51.100.20", "forwarded", None, 6, 1, "2026-11-24", "2026-11-24"),
        ("example.com", "203.0.113.67", "unknown", None, 4, 1, "2026-11-28", "2026-11-28"),
    ]),
    # SES's own envelope: example.com's fallback on 11-01 (receiver.example, 7 rejected),
    # Wednesday's 40 at Google, Gmail's 12 on 11-30; shop.example.net has no custom MAIL
    # FROM, so all its mail (100 a day at Google) has SES's envelope.
    "fallback-by-day.sql": (NOVEMBER, [
        ("2026-11-01", "example.com", "receiver.example", 7, 0, 1),
        ("2026-11-23", "shop.example.net", "google.com", 100, 100, 1),
        ("2026-11-24", "shop.example.net", "google.com", 100, 100, 1),
        ("2026-11-25", "example.com", "google.com", 40, 40, 1),
        ("2026-11-25", "shop.example.net", "google.com", 100, 100, 1),
        ("2026-11-26", "shop.example.net", "google.com", 100, 100, 1),
        ("2026-11-27", "shop.example.net", "google.com", 100, 100, 1),
        ("2026-11-28", "shop.example.net", "google.com", 100, 100, 1),
        ("2026-11-29", "shop.example.net", "google.com", 100, 100, 1),
        ("2026-11-30", "example.com", "google.com", 12, 0, 1),
    ]),
    # First seen on 11-24 or later; SES's aligned address and Google Workspace were seen on
    # 11-18 (the week before), receiver.example's sources on 11-01, shop's on 11-23.
    "new-sources.sql": (("2026-11-24",), [
        ("example.com", "198.51.100.20", "forwarded", None, "2026-11-24", 6, 6),
        ("example.com", "54.240.8.11", "ses", "example.com", "2026-11-25", 40, 0),
        ("example.com", "167.89.100.1", "known", "SendGrid", "2026-11-26", 105, 105),
        ("example.com", "198.51.100.30", "forwarded", None, "2026-11-27", 9, 0),
        ("example.com", "203.0.113.66", "unknown", None, "2026-11-28", 11, 11),
        ("example.com", "203.0.113.67", "unknown", None, "2026-11-28", 4, 4),
        ("example.com", "54.240.8.12", "ses", "example.com", "2026-11-30", 12, 12),
        ("example.com", "192.0.2.55", "forwarded", None, "2026-11-30", 3, 3),
    ]),
    # Saturday at Google: SES 120, Workspace 5, the spoofer 8 + 4: 125 of 137 pass (91.2%).
    # Sunday: Google SES 100 and Workspace 4; Outlook SES 50 and the spoofer 3 (94.3%).
    "pass-rate-by-reporter.sql": (("2026-11-28", "2026-11-29"), [
        ("2026-11-28", "example.com", "google.com", 137, 125, 91.2),
        ("2026-11-28", "shop.example.net", "google.com", 100, 100, 100.0),
        ("2026-11-29", "example.com", "Outlook.com", 53, 50, 94.3),
        ("2026-11-29", "example.com", "google.com", 104, 104, 100.0),
        ("2026-11-29", "shop.example.net", "google.com", 100, 100, 100.0),
    ]),
    # Every reason given in November: the forwarded list message on 11-01, the mailing list
    # on Tuesday, and Gmail's three on 11-30 (the forwarder's two, the failed requirement).
    "overrides.sql": (NOVEMBER, [
        ("2026-11-01", "example.com", "receiver.example", "198.51.100.4", "forwarded", "none", 30,
         "forwarded", None, False),
        ("2026-11-24", "example.com", "google.com", "198.51.100.20", "forwarded", "none", 6,
         "mailing_list", None, False),
        ("2026-11-30", "example.com", "google.com", "192.0.2.55", "forwarded", "none", 3,
         "forwarded", None, False),
        ("2026-11-30", "example.com", "google.com", "192.0.2.55", "forwarded", "none", 3,
         "other", "ARC chain from a known forwarder", False),
        ("2026-11-30", "example.com", "google.com", "54.240.8.12", "ses", "reject", 12,
         "local_policy", REQUIREMENT, True),
    ]),
}


def normalized(row):
    """DuckDB reads `dt` as a date and a rate as a decimal; Athena gives text and doubles."""
    out = []
    for value in row:
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        elif type(value).__name__ == "Decimal":
            value = float(value)
        out.append(value)
    return tuple(out)


def struct_fields(kind):
    """`array<struct<a:string,b:string>>` -> ["a", "b"]."""
    inner = kind[len("array<struct<"):-2]
    return [field.split(":")[0] for field in inner.split(",")]


def fits(value, kind):
    if value is None:
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "bigint":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind.startswith("array<struct<"):
        fields = struct_fields(kind)
        return isinstance(value, list) and all(
            isinstance(v, dict) and list(v) == fields and all(fits(x, "string") for x in v.values())
            for v in value)
    return False


def table_failures(rows):
    """How the rows differ from the Glue table's columns."""
    from cfnlint.decode import decode
    template, matches = decode("template.yaml")
    if matches:
        return [f"template.yaml: {matches}"]
    table = template["Resources"]["ReportRowsTable"]["Properties"]["TableInput"]
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    columns += [(c["Name"], c["Type"]) for c in table["PartitionKeys"]]
    failures = []
    for line in open(rows, encoding="utf-8"):
        row = json.loads(line)
        if list(row) != [name for name, _ in columns]:
            return [f"a row's fields {list(row)} are not the table's columns {columns}"]
        for name, kind in columns:
            if not fits(row[name], kind):
                failures.append(f"{name}: {row[name]!r} is not {kind}")
    return failures[:10]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    cli = sys.argv[1]
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        rows = os.path.join(tmp, "rows.ndjson")
        with open(rows, "wb") as out:
            subprocess.run([cli, "reports", "--format", "rows", *OPTIONS, *INPUTS],
                           stdout=out, check=True)
        failures += table_failures(rows)
        connection = duckdb.connect()
        connection.execute(
            f"CREATE VIEW report_rows AS SELECT * FROM read_json_auto('{rows}')")
        files = sorted(os.path.basename(p) for p in glob.glob("queries/*.sql"))
        untested = sorted(set(files) - set(EXPECTED))
        if untested:
            failures.append(f"queries without an expected result: {untested}")
        missing = sorted(set(EXPECTED) - set(files))
        if missing:
            failures.append(f"expected results for queries that do not exist: {missing}")
        for name in files:
            if name not in EXPECTED:
                continue
            parameters, expected = EXPECTED[name]
            text = open(os.path.join("queries", name), encoding="utf-8").read()
            # Each pair of `?` is one range: the query's parameters in order.
            count = text.count("?")
            values = list(parameters) * (count // max(len(parameters), 1))
            try:
                got = [normalized(r) for r in connection.execute(text, values).fetchall()]
            except duckdb.Error as error:
                failures.append(f"{name}: {error}")
                continue
            if got != expected:
                failures.append(f"{name}:\n  expected {expected}\n  got      {got}")
            else:
                print(f"ok {name}: {len(got)} row(s)")
    if failures:
        sys.exit("\n".join(failures))


main()
