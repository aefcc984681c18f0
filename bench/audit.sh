#!/usr/bin/env bash
# The audit at scale (issue 26): examples/audit_scale.rs on 500 identities (the SDK's mocking
# layer, the real pacing of one GetEmailIdentity a second, tokio's paused clock). Writes the
# "Audit at scale" section of bench/RESULTS.md in place; bench/compare.sh runs it.
#
#   ./bench/audit.sh [IDENTITIES]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --quiet --example audit_scale
"$CARGO_TARGET_DIR/release/examples/audit_scale" "${1:-500}" > "$CARGO_TARGET_DIR/audit_scale.jsonl"
cat "$CARGO_TARGET_DIR/audit_scale.jsonl"
python3 - bench/RESULTS.md "$CARGO_TARGET_DIR/audit_scale.jsonl" <<'PY'
import json, sys
sys.path.insert(0, "bench")
from results_md import write_section
path, rows = sys.argv[1], [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
n = rows[0]["identities"]
table = "\n".join(
    f"| {r['dns_seconds']:g} s | {r['at_once']} | {r['whole_run_seconds']} s | {r['calls_per_second']} "
    f"| {r['runs_of_600s_to_cover_all']} | {r['covered']} of {r['identities']} |"
    for r in rows)
section = f"""## Audit at scale (issue 26; `bench/audit.sh`)

{n} identities listed and read through the SESv2 client over the SDK's mocking layer, at the
functions' real pace (one `GetEmailIdentity` a second), DNS taking a set time per identity, on
tokio's paused clock: the figures are the schedule's own seconds. "At once" 1 is the audit as it
was (one identity after another); the functions check `AT_ONCE` at a time. A run stops starting
identities 30 s before Lambda's 600 s timeout and the next run continues where it stopped; the
incident sweep runs first in every run, and on its own schedule, so a long audit never holds
back reminders or resolutions.

| DNS per identity | at once | one run, no deadline | GetEmailIdentity/s | runs of 600 s to cover all | covered |
|---|---|---|---|---|---|
{table}

SESv2's pace bounds the audit at one identity a second: {n} identities take about {n} s however
many are checked at once; checking several at once keeps slow DNS (a resolver timing out) from
adding to it.
"""
write_section(path, "Audit at scale", section)
if any(r["covered"] != r["identities"] or r["calls_per_second"] > 1.0 for r in rows):
    sys.exit("an identity was never checked, or SESv2 was asked faster than its rate")
PY
echo "bench/RESULTS.md: audit at scale written"
