#!/usr/bin/env bash
# Report rows at scale (issue 28): 100,000 generated reports through the reports flow, once per
# row destination (direct: S3 objects; firehose: a Firehose stream), with in-memory ports and
# the real adapters over the SDK's mocks (examples/rows_scale.rs says what is counted).
# Writes the "Report rows at scale" section of bench/RESULTS.md in place; bench/compare.sh
# runs it. docs/analytics.md turns the figures into a cost.
#
#   ./bench/rows.sh [REPORTS]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
REPORTS="${1:-100000}"
cargo build --release --quiet --example rows_scale
direct="$("$CARGO_TARGET_DIR/release/examples/rows_scale" direct "$REPORTS")"
firehose="$("$CARGO_TARGET_DIR/release/examples/rows_scale" firehose "$REPORTS")"
echo "$direct"
echo "$firehose"

python3 - bench/RESULTS.md "$direct" "$firehose" <<'PY'
import json, sys
sys.path.insert(0, "bench")
from results_md import write_section
path = sys.argv[1]
runs = [json.loads(a) for a in sys.argv[2:]]
ok = all(r["failed"] == 0 for r in runs)
d = runs[0]
lines = "\n".join(
    f"| {r['mode']} | {r['reports_per_second']:,.0f} | {r['largest_report_peak_kib'] / 1024:.1f} MiB "
    f"| {r['peak_rss_kib'] / 1024:.0f} MiB "
    f"| {r['dynamodb_calls_per_report']} | {r['s3_gets_per_report']:.0f} GET"
    + (f" + {r['row_calls_per_report']} PUT" if r["mode"] == "direct" else "")
    + f" | {r['row_calls_per_report'] if r['mode'] == 'firehose' else 0} "
    f"| {r['firehose_records_per_report'] if r['mode'] == 'firehose' else 0} "
    f"| {r['row_bytes_per_report']:,.0f} "
    f"| {r['firehose_billed_bytes_per_report'] if r['mode'] == 'firehose' else 0:,.0f} |"
    for r in runs)
section = f"""## Report rows at scale (issue 28; `bench/rows.sh`)

{d['reports']:,} generated reports ({d['rows']:,} rows: most with a few records, a quarter with
dozens, one in twenty with hundreds, one in a thousand with 5,000; 300 domains, 40 reporters,
30 days), each one invocation of the reports flow on one thread: in-memory objects, ledger,
rollups and sink, and the real row destination over the SDK's mocks, which count the calls and
their bytes. The messages' generation is not timed. DynamoDB calls are what the table's adapter
makes for the ledger's and the rollups' calls (claim, completion, known sources in batches of
100, new ones in batches of 25, the rollup, the findings quota). Bytes: the gzip NDJSON object
(direct), or the NDJSON the records carry (firehose; the stream converts it to Parquet), and
what Firehose bills for them (each record rounded up to the next 5 KB).
Memory: what the invocation of the largest report ({d['largest_report_records']:,} records) adds to the
resting process, measured alone against fresh ports (its peak reset first), as one Lambda
invocation would; and the whole run's peak, which holds the in-memory ledger's history of
every source of every report (a state the table keeps in AWS, not the function).

| mode | reports/s | largest report's peak | process peak | DynamoDB calls/report | S3 calls/report | PutRecordBatch/report | Firehose records/report | row bytes/report | Firehose bytes billed/report |
|---|---|---|---|---|---|---|---|---|---|
{lines}

The report messages the rows came from: {d['mail_bytes_per_report']:,.0f} bytes each on average (gzip, base64, in mail).

{'Every report counted once, its rows written.' if ok else '**Some reports failed or were not counted.**'}
"""
write_section(path, "Report rows at scale", section)
if not ok:
    sys.exit("some reports were not counted")
PY
echo "bench/RESULTS.md: report rows written"
