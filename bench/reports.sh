#!/usr/bin/env bash
# Receivers' reports, side by side in one run, and the peak memory of hostile and huge inputs.
# Writes the "Receivers' reports" section of bench/RESULTS.md in place (bench/compare.sh runs
# it too). Installs parsedmarc itself.
#
#   ./bench/reports.sh
#
# Throughput: the aggregate reports among the vectors that parsedmarc accepts, 20 copies each,
# through (a) parsedmarc's parser (and, once, its command), (b) the bare work of reading the same files (gunzip when
# gzip, and an XML token scan with no model, tokens borrowed: examples/bare_read.rs), and (c) our whole
# `reports --format json` (process start, reading, judging and output). Best of 11, ours
# and the bare read taking turns.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
VECTORS="${VECTORS:-../shared/vectors}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

python3 -c 'import parsedmarc' 2>/dev/null \
  || python3 -m pip install --quiet --disable-pip-version-check parsedmarc
cargo build --release --quiet --bin ses-dmarc-monitor --example bare_read
OURS="$CARGO_TARGET_DIR/release/ses-dmarc-monitor"
BARE="$CARGO_TARGET_DIR/release/examples/bare_read"

read -r rep_ok rep_all < <(python3 bench/reports.py corpus "$VECTORS" "$WORK/reports" 20)
rep_n=$(find "$WORK/reports" -type f | wc -l)
rep_mb=$(du -sm "$WORK/reports" | cut -f1)
rep_pd=$(python3 bench/reports.py parsedmarc "$WORK/reports")
# parsedmarc's own command over the same files, as its users run it: its start counted, and
# less output than ours (it writes one copy of a report id it has seen, 29 of these 720).
pd_start=$(date +%s.%N)
# Run through the interpreter parsedmarc was installed for above, as its own script does:
# its script need not be on PATH.
python3 -c 'import sys; from parsedmarc.cli import _main; sys.argv[0] = "parsedmarc"; sys.exit(_main())' \
  --offline --silent -o "$WORK/parsedmarc-out" "$WORK/reports" >/dev/null 2>&1
rep_pd_cli=$(python3 -c "print(f'{$rep_n / ($(date +%s.%N) - $pd_start):.1f}')")
# side_by_side N DIR: reports/s of the bare read and of ours over the N reports in DIR, each
# the best of 11 runs, the two taking turns, so that both meet the same moments of a machine
# whose speed varies from second to second.
side_by_side() {
  python3 - "$1" "$BARE" "$OURS" "$2" <<'PY'
import subprocess, sys, time
n, bare, ours, where = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
commands = [[bare, where], [ours, "reports", "--format", "json", where]]
best = [0.0, 0.0]
for _ in range(11):
    for i, cmd in enumerate(commands):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best[i] = max(best[i], n / (time.perf_counter() - start))
print(f"{best[0]:.0f} {best[1]:.0f}")
PY
}
read -r rep_bare rep_ours < <(side_by_side "$rep_n" "$WORK/reports")
# The same reports gzipped, as receivers send them.
python3 - "$WORK/reports" "$WORK/gz" <<'PY'
import gzip, os, sys
os.makedirs(sys.argv[2])
for name in os.listdir(sys.argv[1]):
    data = open(os.path.join(sys.argv[1], name), "rb").read()
    open(os.path.join(sys.argv[2], name + ".gz"), "wb").write(gzip.compress(data))
PY
read -r gz_bare gz_ours < <(side_by_side "$rep_n" "$WORK/gz")
ratio() { python3 -c "print(f'{$1 / $2:.1f}')"; }
ratio2() { python3 -c "print(f'{$1 / $2:.2f}')"; }
# Instructions (callgrind), which do not vary from run to run as wall time does here.
instructions() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
# The same corpus split by size: the one large report (2,286 records, 909 KB) and the small
# ones (a few records each), so each ratio shows where it comes from.
python3 - "$WORK/reports" "$WORK/split" <<'PY'
import os, shutil, sys
for name in os.listdir(sys.argv[1]):
    path = os.path.join(sys.argv[1], name)
    part = "large" if os.path.getsize(path) > 100_000 else "small"
    os.makedirs(os.path.join(sys.argv[2], part), exist_ok=True)
    shutil.copy(path, os.path.join(sys.argv[2], part, name))
PY
split_rows=""
for part in small large; do
  dir="$WORK/split/$part"
  n=$(find "$dir" -type f | wc -l)
  pd=$(python3 bench/reports.py parsedmarc "$dir")
  read -r bare ours < <(side_by_side "$n" "$dir")
  instr="(no valgrind)"
  if command -v valgrind >/dev/null; then
    instr=$(ratio2 "$(instructions "$OURS" reports --format json "$dir")" "$(instructions "$BARE" "$dir")")
  fi
  split_rows+="| $part | $n | $pd | $bare | $ours | $(ratio "$bare" "$pd") | $(ratio "$ours" "$pd") | $(ratio2 "$bare" "$ours") | $instr |"$'\n'
done
if command -v valgrind >/dev/null; then
  in_bare=$(instructions "$BARE" "$WORK/reports"); in_ours=$(instructions "$OURS" reports --format json "$WORK/reports")
  ingz_bare=$(instructions "$BARE" "$WORK/gz"); ingz_ours=$(instructions "$OURS" reports --format json "$WORK/gz")
  instr_line="In instructions (callgrind, whole process): $(ratio2 "$in_ours" "$in_bare") × the bare read for the XML, $(ratio2 "$ingz_ours" "$ingz_bare") × for the gzip ($in_ours vs $in_bare; $ingz_ours vs $ingz_bare)."
else
  instr_line="(valgrind is not installed: no instruction counts.)"
fi

# The vectors as they come: XML, gzip, zip, e-mail and TLS reports, and what is not a report.
vec_start=$(date +%s.%N)
vec_reports=$("$OURS" reports --format json "$VECTORS/dmarc-reports" \
  "$VECTORS/dkim-spf-dmarc/mail-auth/resources/dmarc-feedback" \
  "$VECTORS/dkim-spf-dmarc/mail-auth/resources/tlsrpt" 2>/dev/null | wc -l || true)
vec_seconds=$(python3 -c "print(f'{$(date +%s.%N) - $vec_start:.3f}')")

# Hostile and huge inputs: peak RSS, time and exit status of `reports --format json`.
python3 bench/hostile.py "$WORK/hostile" > "$WORK/hostile.txt"
rows=""
while read -r name bytes; do
  read -r seconds rss status < <(/usr/bin/time -f "%e %M %x" "$OURS" reports --format json \
    "$WORK/hostile/$name" 2>&1 >/dev/null | tail -n 1)
  rows+="| \`$name\` | $bytes | $seconds | $(( rss / 1024 )) | $status |"$'\n'
done < "$WORK/hostile.txt"

section="$WORK/section.md"
cat > "$section" <<MD
## Receivers' reports

Corpus: the $rep_ok DMARC aggregate reports among the vectors that parsedmarc accepts (of
$rep_all), decompressed, 20 copies each: $rep_n files, $rep_mb MB. Each measured in the same
run, best of 11, ours and the bare read taking turns (\`bench/reports.sh\`, at commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)).

| reader | XML, reports/s | gzip, reports/s | ours ÷ it (XML) |
|---|---|---|---|
| ses-dmarc-monitor \`reports --format json\` (whole process: reading, judging, output) | $rep_ours | $gz_ours | 1.0 |
| the bare read: each file read, gunzipped into memory when gzip, its XML scanned token by token with each token borrowed from the text (quick-xml's fastest reading, the one ours uses for text in memory), no model (\`examples/bare_read.rs\`, whole process) | $rep_bare | $gz_bare | $(ratio "$rep_ours" "$rep_bare") |
| parsedmarc $(python3 -c 'import parsedmarc; print(parsedmarc.__version__)') \`parse_aggregate_report_xml(offline=True)\`, each file listed, read and parsed in one loop (the import not timed; XML) | $rep_pd | | $(ratio "$rep_ours" "$rep_pd") |
| parsedmarc's command, \`parsedmarc --offline --silent -o DIR\` over the folder, once (its start counted; it writes one copy of each repeated report id; XML) | $rep_pd_cli | | $(ratio "$rep_ours" "$rep_pd_cli") |

Ours takes $(ratio2 "$rep_bare" "$rep_ours") × the time of the bare read for the XML and
$(ratio2 "$gz_bare" "$gz_ours") × for the gzip (goal: at most 2×), and is
$(ratio "$rep_ours" "$rep_pd") × as fast as parsedmarc (goal: at least 100×). $instr_line
The bare read alone is $(ratio "$rep_bare" "$rep_pd") × as fast as parsedmarc: on this corpus 100 × parsedmarc
means ours within $(python3 -c "print(f'{$rep_bare / (100 * $rep_pd):.2f}')") × the bare read's time, where the other goal allows 2 ×.

By size (the same files, each part measured alone; XML, reports/s). Wall times here vary by
10–30 % from one run of this script to the next; the instruction counts do not:

| reports | files | parsedmarc | bare read | ours | bare read ÷ parsedmarc | ours ÷ parsedmarc | ours' time ÷ bare read's | ours' instructions ÷ bare read's |
|---|---|---|---|---|---|---|---|---|
$split_rows
The \`reports\` command over the vectors as they come (XML, gzip, zip, e-mail, TLS reports,
and the files that are not reports): $vec_reports reports in $vec_seconds s.

Peak memory of \`reports --format json\` on hostile and huge inputs (\`bench/hostile.py\`;
\`/usr/bin/time\`; target: at most 128 MiB for any input up to SES's 40 MB). Exit 2 is the
clear error (a bomb, a cut report); 0 is read in full with exact totals.

| input | bytes | seconds | peak RSS MiB | exit |
|---|---|---|---|---|
$rows
MD
python3 - bench/RESULTS.md "$section" <<'PY'
import sys
sys.path.insert(0, "bench")
from results_md import write_section
path, section = sys.argv[1], open(sys.argv[2]).read()
write_section(path, "Receivers' reports", section)
PY
echo "bench/RESULTS.md: receivers' reports written"
