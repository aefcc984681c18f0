#!/usr/bin/env bash
# Side-by-side measurements, one command: Authentication-Results parsing against Python
# `authres` and Perl `Mail::AuthenticationResults`; whole-event analysis against the floor of
# merely deserializing the same events with serde_json; process-level figures of the CLI.
# Installs the peers itself; writes bench/RESULTS.md. With BASELINE=<commit>, the same
# figures for that commit beside this one's.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
VECTORS="${VECTORS:-../shared/vectors}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

python3 -c 'import authres' 2>/dev/null || python3 -m pip install --quiet --disable-pip-version-check authres
perl -MMail::AuthenticationResults::Parser -e1 2>/dev/null \
  || { apt-get update -q >/dev/null && apt-get install -y -q libmail-authenticationresults-perl >/dev/null; }
cargo build --release --quiet --bin ses-dmarc-monitor --example whole_event
OURS="$CARGO_TARGET_DIR/release/ses-dmarc-monitor"
WHOLE="$CARGO_TARGET_DIR/release/examples/whole_event"

python3 bench/corpus.py "$VECTORS" events "$WORK/base.txt"
# Which headers each parser accepts; the timed corpus holds only those every parser accepts.
"$OURS" auth-results --format json "$WORK/base.txt" | sed 's/^{"error".*/0/; s/^{.*/1/' > "$WORK/ours.acc"
python3 bench/authres_py.py accept "$WORK/base.txt" > "$WORK/py.acc"
perl bench/authres_pl.pl accept "$WORK/base.txt" > "$WORK/pl.acc"
python3 - "$WORK" <<'PY'
import sys
work = sys.argv[1]
base = open(f"{work}/base.txt", encoding="utf-8").read().splitlines()
acc = {n: [l.strip() == "1" for l in open(f"{work}/{n}.acc")] for n in ("ours", "py", "pl")}
assert all(len(a) == len(base) for a in acc.values()), {n: len(a) for n, a in acc.items()}
common = [h for i, h in enumerate(base) if all(acc[n][i] for n in acc)]
corpus = (common * (100_000 // len(common) + 1))[:100_000]
open(f"{work}/corpus.txt", "w", encoding="utf-8").write("\n".join(corpus) + "\n")
with open(f"{work}/counts.txt", "w") as f:
    f.write(f"{len(base)} {len(common)} " + " ".join(str(len(base) - sum(acc[n])) for n in ("ours", "py", "pl")) + "\n")
PY
read -r base common rej_ours rej_py rej_pl < "$WORK/counts.txt"

ours_rate=$(python3 - "$OURS" "$WORK/corpus.txt" <<'PY'
import subprocess, sys, time
best = 0
for _ in range(3):
    start = time.perf_counter()
    with open(sys.argv[2], "rb") as f:
        subprocess.run([sys.argv[1], "auth-results", "--format", "text"], stdin=f, stdout=subprocess.DEVNULL, check=True)
    best = max(best, 100_000 / (time.perf_counter() - start))
print(f"{best:.0f}")
PY
)
py_rate=$(python3 bench/authres_py.py time "$WORK/corpus.txt")
pl_rate=$(perl bench/authres_pl.pl time "$WORK/corpus.txt")

# Whole events: 10,000 generated from the bundled ones, each phase over all of them in memory.
EVENTS=10000
python3 bench/events.py events "$WORK/events" "$EVENTS" 2>/dev/null
"$WHOLE" value,read,detect,analyze "$WORK/events" 7 > "$WORK/whole.txt"
rate() { awk -v p="$1" '$1 == p { print $4 }' "$WORK/whole.txt"; }
per_event() { awk -v p="$1" '$1 == p { printf "%.1f", $3 / $2 * 1e6 }' "$WORK/whole.txt"; }
# The CLI over the same files: reading each file and printing its report included.
cli_start=$(date +%s.%N)
status=0
"$OURS" analyze --format json "$WORK/events" > /dev/null 2>&1 || status=$?
cli_seconds=$(python3 -c "print(f'{$(date +%s.%N) - $cli_start:.2f}')")
[ "$status" -le 1 ] || { echo "analyze failed on the generated events (exit $status)" >&2; exit 1; }
# Instruction counts, repeatable where wall time is not: 2,000 of the events, one round per
# phase, less the cost of loading them (phase none).
instructions=""
if command -v valgrind >/dev/null 2>&1; then
  mkdir -p "$WORK/events2k"
  files=("$WORK"/events/*.json)
  cp -t "$WORK/events2k" "${files[@]:0:2000}"
  for phase in none value read detect analyze; do
    n=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$WHOLE" "$phase" "$WORK/events2k" 1 2>&1 \
      | awk '/Collected/ { print $NF }')
    instructions+="$phase $n"$'\n'
  done
fi
instr() { awk -v p="$1" '$1 == "none" { base = $2 } $1 == p { n = $2 } END { printf "%.0f", (n - base) / 2000 }' <<<"$instructions"; }

event=events/receipt-mail-from-fallback.json
time_out=$( { /usr/bin/time -v "$OURS" analyze --format json "$event" >/dev/null; } 2>&1 )
# /usr/bin/time counts in 10 ms steps: the wall time is the median of 20 runs, timed here.
wall=$(python3 - "$OURS" "$event" <<'PY'
import statistics, subprocess, sys, time
runs = []
for _ in range(20):
    start = time.perf_counter()
    subprocess.run([sys.argv[1], "analyze", "--format", "json", sys.argv[2]], stdout=subprocess.DEVNULL, check=True)
    runs.append(time.perf_counter() - start)
print(f"{statistics.median(runs) * 1000:.1f} ms")
PY
)
rss=$(grep "Maximum resident set size" <<<"$time_out" | awk '{print $NF}')
# The Lambda bootstraps as the template deploys them (arm64), built for this commit.
command -v cargo-lambda >/dev/null 2>&1 \
  || python3 -m pip install --quiet --disable-pip-version-check cargo-lambda ziglang
built=""
if rustup target list --installed | grep -qx aarch64-unknown-linux-gnu \
   || rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1; then
  (cd lambda && cargo lambda build --release --arm64 --bin receipt --bin feedback --bin audit --bin reports --bin canary) >/dev/null 2>&1 && built="arm64"
fi
[ -n "$built" ] || { (cd lambda && cargo lambda build --release --x86-64 --bin receipt --bin feedback --bin audit --bin reports --bin canary) >/dev/null 2>&1 && built="x86_64"; }
sizes=""
for bin in receipt feedback audit reports canary; do
  f="$CARGO_TARGET_DIR/lambda/$bin/bootstrap"
  if [ -f "$f" ]; then
    zipped=$(python3 -c "import io,sys,zipfile; b=io.BytesIO(); z=zipfile.ZipFile(b,'w',zipfile.ZIP_DEFLATED); z.write(sys.argv[1],'bootstrap'); z.close(); print(len(b.getvalue()))" "$f")
    sizes+="| \`$bin\` | $(stat -c %s "$f") | $zipped |"$'\n'
  fi
done

# The functions as Lambda runs them: each bootstrap (built for this machine) against a Lambda
# Runtime API served by bench/lambda_runtime.py; offline (no DNS, no SESv2, alerts only
# logged), so the figures are this code's cost, not the network's.
(cd lambda && cargo build --release --quiet --bin receipt --bin feedback --bin audit)
lambda_row() { # --row|--row-untimed FUNCTION EVENT INVOCATIONS ENV...
  local mode="$1" name="$2" event_file="$3" n="$4"; shift 4
  python3 bench/lambda_runtime.py "$mode" "$name" "$CARGO_TARGET_DIR/release/$name" "$event_file" "$n" "$@"
}
lambda_rows="$(lambda_row --row receipt events/receipt-mail-from-fallback.json 500 IDENTITY_LOOKUP=off DNS_RESOLVER=off MONITORED_DOMAINS=example.com)
$(lambda_row --row feedback events/sns-bounce-gmail-authentication.json 500 IDENTITY_LOOKUP=off DNS_RESOLVER=off MONITORED_DOMAINS=example.com)
$(lambda_row --row-untimed audit events/receipt-aligned.json 2 DNS_RESOLVER=127.0.0.1:9 AWS_ENDPOINT_URL=http://127.0.0.1:1 MONITORED_DOMAINS=example.com)"

ratio() { python3 -c "print(f'{$1 / $2:.1f}')"; }
change() { python3 -c "print(f'{($2 - $1) / $1 * 100:+.1f} %')"; }

# Against a baseline commit (BASELINE=<rev>): its CLI and its whole_event example, built in a
# worktree with a target directory of their own, measured the same way over one corpus made
# from the events the baseline bundles (so that both read every event: a newer commit may
# bundle shapes an older one refuses).
# Wall times alternate between the two so that a busy moment does not favour one.
baseline_md=""
tick='`'
if [ -n "${BASELINE:-}" ]; then
  base_rev=$(git rev-parse --short "$BASELINE")
  git worktree add --detach "$WORK/baseline" "$BASELINE" >/dev/null
  trap 'git worktree remove --force "$WORK/baseline" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
  base_target="${BASELINE_TARGET_DIR:-$CARGO_TARGET_DIR/baseline}"
  (cd "$WORK/baseline" && CARGO_TARGET_DIR="$base_target" \
    cargo build --release --quiet --bin ses-dmarc-monitor --example whole_event)
  B_OURS="$base_target/release/ses-dmarc-monitor"
  B_WHOLE="$base_target/release/examples/whole_event"
  python3 bench/events.py "$WORK/baseline/events" "$WORK/shared" "$EVENTS" 2>/dev/null
  best_rate() { # BINARY: the best analyze rate of three alternating rounds of 7
    "$1" analyze "$WORK/shared" 7 | awk '$1 == "analyze" { print $4 }'
  }
  a_rates=(); b_rates=()
  for _ in 1 2 3; do a_rates+=("$(best_rate "$WHOLE")"); b_rates+=("$(best_rate "$B_WHOLE")"); done
  a_rate=$(printf '%s\n' "${a_rates[@]}" | sort -n | tail -1)
  b_rate=$(printf '%s\n' "${b_rates[@]}" | sort -n | tail -1)
  cli_rate() { # BINARY
    python3 - "$1" "$WORK/corpus.txt" <<'PY'
import subprocess, sys, time
best = 0
for _ in range(3):
    start = time.perf_counter()
    with open(sys.argv[2], "rb") as f:
        subprocess.run([sys.argv[1], "auth-results", "--format", "text"], stdin=f, stdout=subprocess.DEVNULL, check=True)
    best = max(best, 100_000 / (time.perf_counter() - start))
print(f"{best:.0f}")
PY
  }
  a_headers=$(cli_rate "$OURS"); b_headers=$(cli_rate "$B_OURS")
  one_event() { # BINARY: median wall of 20 runs, in ms
    python3 - "$1" "$event" <<'PY'
import statistics, subprocess, sys, time
runs = []
for _ in range(20):
    start = time.perf_counter()
    subprocess.run([sys.argv[1], "analyze", "--format", "json", sys.argv[2]], stdout=subprocess.DEVNULL, check=True)
    runs.append(time.perf_counter() - start)
print(f"{statistics.median(runs) * 1000:.2f}")
PY
  }
  a_one=$(one_event "$OURS"); b_one=$(one_event "$B_OURS")
  b_rss=$( { /usr/bin/time -v "$B_OURS" analyze --format json "$event" >/dev/null; } 2>&1 \
    | grep "Maximum resident set size" | awk '{print $NF}')
  a_rss=$(grep "Maximum resident set size" <<<"$time_out" | awk '{print $NF}')
  count_rows=""
  if [ -n "$instructions" ]; then
    mkdir -p "$WORK/shared2k"
    shared=("$WORK"/shared/*.json)
    cp -t "$WORK/shared2k" "${shared[@]:0:2000}"
    count() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$1" "$2" "$WORK/shared2k" 1 2>&1 \
      | awk '/Collected/ { print $NF }'; }
    per_event_instr() { # BINARY PHASE: instructions per event, loading subtracted
      python3 -c "print(round(($(count "$1" "$2") - $(count "$1" none)) / 2000))"
    }
    b_detect=$(per_event_instr "$B_WHOLE" detect); a_detect=$(per_event_instr "$WHOLE" detect)
    b_analyze=$(per_event_instr "$B_WHOLE" analyze); a_analyze=$(per_event_instr "$WHOLE" analyze)
    count_rows="| instructions per event, input stage (${tick}detect${tick}, callgrind) | $b_detect | $a_detect | $(change "$b_detect" "$a_detect") |
| instructions per event, whole analysis (${tick}analyze${tick}, callgrind) | $b_analyze | $a_analyze | $(change "$b_analyze" "$a_analyze") |"
  fi
  # criterion's own benchmarks, each build run in turn: the middle estimate of each.
  criterion() { # DIR TARGET: "name nanoseconds" per benchmark
    (cd "$1" && CARGO_TARGET_DIR="$2" cargo bench --quiet --bench parse 2>/dev/null) | python3 -c '
import re, sys
name = None
for line in sys.stdin:
    m = re.match(r"^(\S+/\S+)", line)
    if m: name = m.group(1)
    t = re.search(r"time:\s+\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", line)
    if t and name:
        scale = {"ns": 1, "µs": 1e3, "us": 1e3, "ms": 1e6}[t.group(2)]
        print(name, float(t.group(1)) * scale); name = None
'
  }
  criterion "$WORK/baseline" "$base_target" > "$WORK/crit-base.txt"
  criterion "$PWD" "$CARGO_TARGET_DIR" > "$WORK/crit-ours.txt"
  criterion_rows=$(python3 - "$WORK/crit-base.txt" "$WORK/crit-ours.txt" <<'PY'
import sys
base = dict(l.split() for l in open(sys.argv[1]) if l.strip())
ours = dict(l.split() for l in open(sys.argv[2]) if l.strip())
for name, b in base.items():
    if name in ours:
        b, o = float(b), float(ours[name])
        print(f"| `cargo bench` {name}, ns | {b:.0f} | {o:.0f} | {(o - b) / b * 100:+.1f} % |")
PY
)
  baseline_md="
## Against commit $base_rev (${tick}BASELINE=$BASELINE${tick})

Both built here with the release profile and measured in this run on one corpus of $EVENTS
events made from the $(ls "$WORK/baseline/events"/*.json | wc -l) JSON events $base_rev bundles; wall
figures are the best of alternating rounds (events/s, headers/s: higher is better; ms, KiB and
instructions: lower is better).

| measured | $base_rev | $(git rev-parse --short HEAD) | change |
|---|---|---|---|
| whole-event analysis, events/s (${tick}whole_event analyze${tick}) | $b_rate | $a_rate | $(change "$b_rate" "$a_rate") |
$count_rows
| ${tick}auth-results${tick} whole process, headers/s | $b_headers | $a_headers | $(change "$b_headers" "$a_headers") |
| one event through the CLI, ms (median of 20) | $b_one | $a_one | $(change "$b_one" "$a_one") |
| one event through the CLI, peak RSS KiB | $b_rss | $a_rss | $(change "$b_rss" "$a_rss") |
$criterion_rows

criterion figures on a 2-core machine move by several percent between runs of the same build;
the instruction counts do not.
"
fi
cat > bench/RESULTS.md <<MD
# Measurements

$(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)).
Produced by \`bench/compare.sh\`; rerun it rather than editing this file.

## Authentication-Results parsing

Corpus: $base distinct header values (the vectors' extracted header sets and the bundled
events); $common accepted by all three parsers, replicated to 100,000 headers. Rejected:
ours $rej_ours, Python \`authres\` $rej_py, Perl \`Mail::AuthenticationResults\` $rej_pl.

| parser | headers/s | ours ÷ it |
|---|---|---|
| ses-dmarc-monitor \`auth-results\` (whole process, output included) | $ours_rate | 1.0 |
| Python \`authres\` (parse loop only) | $py_rate | $(ratio "$ours_rate" "$py_rate") |
| Perl \`Mail::AuthenticationResults\` (parse loop only) | $pl_rate | $(ratio "$ours_rate" "$pl_rate") |

The library alone parses SES's header in about 1 µs (\`cargo bench\`, \`authres/ses_header\`).

## Whole-event analysis

Corpus: $EVENTS events made by \`bench/events.py\` from the bundled JSON events (receipt
Lambda events, SNS receipt and feedback notifications, other SNS messages) with varied
sending domains and, one time in five, a different verdict. Every phase runs over all of them
in memory, on one thread, best of 7 rounds (\`examples/whole_event.rs\`).

| phase | events/s | µs per event | analyze costs |
|---|---|---|---|
| \`value\`: \`serde_json::from_slice::<Value>\` of the event | $(rate value) | $(per_event value) | $(ratio "$(rate value)" "$(rate analyze)") × |
| \`read\`: \`value\` plus the JSON inside each SNS \`Message\` (all the JSON there is) | $(rate read) | $(per_event read) | $(ratio "$(rate read)" "$(rate analyze)") × |
| \`detect\`: our input stage, recognized and deserialized into the typed model | $(rate detect) | $(per_event detect) | $(ratio "$(rate detect)" "$(rate analyze)") × |
| \`analyze\`: the whole offline analysis, findings and evidence included | $(rate analyze) | $(per_event analyze) | 1.0 × |

Target: the analysis at least half as fast as bare deserialization, i.e. "analyze costs" at
most 2 × \`value\`.
${instructions:+
Instructions per event (callgrind, 2,000 of the events, loading excluded): value $(instr value),
read $(instr read), detect $(instr detect), analyze $(instr analyze); analyze costs
$(ratio "$(instr analyze)" "$(instr value)") × value and $(ratio "$(instr analyze)" "$(instr read)") × read.
}
The CLI, \`ses-dmarc-monitor analyze --format json\` over the $EVENTS files (each file read
and its report printed): ${cli_seconds} s, $(python3 -c "print(round($EVENTS / $cli_seconds))") events/s.

## Receivers' reports

(written by bench/reports.sh)

## Incident burst

(written by bench/incidents.sh)

## Audit at scale

(written by bench/audit.sh)

## One event through the CLI (what a cold start pays)

\`ses-dmarc-monitor analyze --format json $event\`: wall $wall (median of 20 runs),
peak RSS $rss KiB (\`/usr/bin/time -v\`).

## The functions as Lambda runs them

Each bootstrap, built for this machine (x86_64; the deployed arm64 build is the same code),
run against a Lambda Runtime API served by \`bench/lambda_runtime.py\` (the 2018-06-01 API:
\`next\`, \`response\`, \`error\`), with the environment Lambda sets. Offline: no DNS, no SESv2,
alerts only logged, so these are this code's costs; DNS answers are cached across invocations
and alerts are rare. init: process start to its first \`next\`; first: the first invocation;
warm: the median of the others (the event handed over to the response received, HTTP
included); peak RSS: VmHWM. The audit's invocation is not timed (it needs SESv2; here its
endpoint refuses), only its start and memory.

| function | init ms | first ms | warm ms | warm p99 ms | peak RSS KiB |
|---|---|---|---|---|---|
$lambda_rows

## Lambda bootstraps (${built:-not built}, \`cargo lambda build --release\`)

| function | bytes | zipped |
|---|---|---|
${sizes:-| (not built: run \`cargo lambda build --release --arm64\`) | | |}
$baseline_md
MD
# Receivers' reports and the incident burst: their own scripts, which fill in their sections.
./bench/reports.sh
./bench/incidents.sh
./bench/audit.sh
./bench/rows.sh
cat bench/RESULTS.md
