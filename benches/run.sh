#!/usr/bin/env bash
# Performance figures for offboard, in one command:
#
#   bash benches/run.sh            # scales 1k, 10k and 100k people (100k: ~2 GB disk, ~3 min)
#   bash benches/run.sh 1k 10k     # only some scales
#   bash benches/run.sh 100k:scattered   # the generator's other shape (random systems per
#                                        # person, per-system group names, no disputed accounts)
#
# For each scale it generates a synthetic organisation with offboard-gen (deterministic), then
# prints wall time and peak RSS of `validate`, `plan` and `audit` (release build), the
# parse-only time and rule evaluation (cargo bench --bench org), and the DuckDB reference
# (benches/reference.py) for leaver-active and orphan findings: its time, the ratio, and
# whether the findings are identical. Then the validate bench (500 systems / 2,000 rules), the
# apply bench against a latency-injecting SCIM stand-in and, when scim2-server is installed
# (bash tests/run.sh), the SCIM apply bench against the real server.
# Needs: /usr/bin/time (Debian package `time`), python3 (a venv with duckdb is made here).
set -euo pipefail
cd "$(dirname "$0")/.."

scales=("$@")
[ ${#scales[@]} -eq 0 ] && scales=(1k 10k 100k)

cargo build --release --bins -q
cargo build --release -p offboard-gen -q
OFFBOARD=target/release/offboard
GEN=target/release/offboard-gen
VENV=target/venv
if ! "$VENV/bin/python" -c "import duckdb" 2>/dev/null; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check duckdb
fi
AT=2026-11-23T09:00:00Z

echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"

measure() { # label, command...: runs it 3 times, prints "label: S s, M MB" (median time, largest
            # peak RSS) and leaves the median seconds in $SECS
    local label=$1; shift
    local tmp runs=()
    local rss=0
    for _ in 1 2 3; do
        tmp=$(mktemp)
        /usr/bin/time -f "%e %M" -o "$tmp" "$@" >/dev/null 2>&1 || true # audit exits 2 on findings
        read -r secs kb < <(tail -1 "$tmp"); rm -f "$tmp"
        runs+=("$secs"); [ "$kb" -gt "$rss" ] && rss=$kb
    done
    SECS=$(printf "%s\n" "${runs[@]}" | sort -n | sed -n 2p)
    printf "  %-34s %7.2f s  %6.0f MB peak RSS  (median of 3: %s)\n" "$label" "$SECS" "$(echo "$rss / 1024" | bc -l)" "${runs[*]}"
}

for arg in "${scales[@]}"; do
    scale=${arg%%:*}
    shape=departments
    [ "$arg" != "$scale" ] && shape=${arg#*:}
    case $scale in
        1k) people=1000; accounts=10000; systems=10 ;;
        10k) people=10000; accounts=100000; systems=10 ;;
        100k) people=100000; accounts=1000000; systems=20 ;;
        *) echo "unknown scale $scale (1k, 10k, 100k)" >&2; exit 1 ;;
    esac
    dir=target/bench/org-$scale-$shape
    if [ ! -f "$dir/inventory/people.csv" ]; then
        "$GEN" --people $people --accounts $accounts --systems $systems --rules 30 --shape "$shape" --out "$dir" 2>/dev/null
    fi
    echo
    echo "== $scale ($shape): $people people, ~$accounts accounts, $systems systems, 30 rules =="
    measure "offboard validate" $OFFBOARD -C "$dir" validate
    measure "offboard plan --summary" $OFFBOARD -C "$dir" -q plan --at $AT --summary
    plan_secs=$SECS
    measure "offboard audit --format json" $OFFBOARD -C "$dir" -q audit --at $AT --format json --output audit.json
    audit_secs=$SECS
    measure "DuckDB reference (python)" "$VENV/bin/python" benches/reference.py "$dir" $AT
    ref_secs=$SECS
    "$VENV/bin/python" benches/reference.py "$dir" $AT > "$dir/reference.jsonl" 2>/dev/null
    python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
ours = sorted((f["kind"], f["system"], f["account"]) for f in json.load(open(f"{d}/audit.json"))["findings"] if f["kind"] in ("leaver-active", "orphan"))
ref = sorted(tuple(json.loads(l).values()) for l in open(f"{d}/reference.jsonl"))
print(f"  leaver-active + orphan findings: offboard {len(ours)}, reference {len(ref)}, identical: {'yes' if ours == ref else 'NO'}")
PY
    printf "  %-34s %7.2f\n" "plan / DuckDB" "$(echo "$plan_secs / $ref_secs" | bc -l)"
    printf "  %-34s %7.2f\n" "audit / DuckDB" "$(echo "$audit_secs / $ref_secs" | bc -l)"
    OFFBOARD_BENCH_ORG=$dir cargo bench -q --bench org 2>/dev/null | sed 's/^/  /'
done

echo
echo "== validate =="
cargo bench -q --bench validate 2>/dev/null | sed 's/^/  /'
echo
echo "== apply against LatencyInjectingScim (20 ms per request) =="
cargo bench -q --bench latency 2>/dev/null | sed 's/^/  /'
if [ -x "$VENV/bin/scim2-server" ]; then
    echo
    echo "== SCIM apply against the real scim2-server =="
    cargo bench -q --bench scim 2>/dev/null | sed 's/^/  /'
fi
