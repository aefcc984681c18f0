"""Generates the whole-event corpus for bench/compare.sh.

usage: events.py EVENTS_DIR OUT_DIR COUNT [SEED]
Writes COUNT files to OUT_DIR, made from the bundled JSON events (receipt events, SNS
receipt and feedback notifications) in turn. Each copy gets its own sending domains and, one
time in five per verdict, a different authentication result, so the analysis sees the spread
of domains and outcomes real traffic has rather than one event replayed. Deterministic for a
given SEED.
"""
import glob
import os
import random
import re
import sys

events_dir, out_dir, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 7)
# Every bundled event; identity-state.json is the events' identity, not an event.
templates = [open(p, encoding="utf-8").read() for p in sorted(glob.glob(f"{events_dir}/*.json"))
             if os.path.basename(p) != "identity-state.json"]
if not templates:
    sys.exit(f"no JSON events in {events_dir}")

# Header and verdict values, also where an SNS Message string escapes their quotes.
VERDICT = re.compile(r'(\\*"status\\*":\s*\\*")(PASS|FAIL|GRAY|PROCESSING_FAILED)(\\*")')
METHOD = re.compile(r"\b(spf|dkim|dmarc)=(pass|fail|softfail|neutral|none|temperror|permerror)\b")
FLIP_VERDICT = {"PASS": "FAIL", "FAIL": "PASS", "GRAY": "PASS", "PROCESSING_FAILED": "PASS"}
FLIP_METHOD = {"spf": "softfail", "dkim": "fail", "dmarc": "fail"}


def vary(text, n):
    brand, partner = f"brand{n % 997}", f"partner{n % 89}"
    text = re.sub(r"(?<![\w.-])example\.com\b", f"{brand}.com", text)
    text = re.sub(r"\.example\.com\b", f".{brand}.com", text)
    text = re.sub(r"\bexample\.net\b", f"{partner}.net", text)
    text = VERDICT.sub(
        lambda m: m.group(1) + (FLIP_VERDICT[m.group(2)] if rng.random() < 0.2 else m.group(2)) + m.group(3),
        text,
    )
    return METHOD.sub(
        lambda m: f"{m.group(1)}={FLIP_METHOD[m.group(1)] if rng.random() < 0.2 else m.group(2)}",
        text,
    )


os.makedirs(out_dir, exist_ok=True)
for n in range(count):
    with open(os.path.join(out_dir, f"{n:06}.json"), "w", encoding="utf-8") as f:
        f.write(vary(templates[n % len(templates)], n))
print(f"{count} events from {len(templates)} templates", file=sys.stderr)
