#!/usr/bin/env bash
# A coverage-guided fuzzing campaign (AFL++ through cargo-afl, stable toolchain).
#
#   bash fuzz/run.sh                 every target, 10 million executions each
#   bash fuzz/run.sh roster 2000000  one target, a given number of executions
#   FUZZ_SECONDS=600 bash fuzz/run.sh roster   ... stopping after 10 minutes at the latest
#
# Targets (src/fuzz_targets.rs): policy (the KDL policy loader), roster (CSV/JSON roster
# parsers), export (the file connector's export parsers), scim (SCIM response bodies, list
# pages, users, paging), ldap (BER search result entries) and webhook (HR webhook payloads of
# every scheme, and their signature check). Generated inputs are capped in
# length (MAX_LEN below): the KDL parser costs about a microsecond per byte, so short inputs
# keep the policy target near 10^3 executions per second, and every construct the parsers
# know fits in the cap. Each starts from fuzz/corpus/<target>; afterwards the
# inputs AFL kept (its queue, minimised with afl-cmin) become the new corpus, and any crash or
# hang is copied to fuzz/corpus/<target>/ as well, so `cargo test --test fuzz_corpus` replays
# it until it is fixed. Findings are listed at the end.
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo-afl >/dev/null 2>&1 || cargo install cargo-afl --locked
TARGETS=("${1:-policy}")
[ $# -eq 0 ] && TARGETS=(policy roster export scim ldap webhook)
declare -A MAX_LEN=([policy]=512 [roster]=2048 [export]=2048 [scim]=4096 [ldap]=2048 [webhook]=2048)
EXECUTIONS="${2:-10000000}"
cargo afl build --release
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
for t in "${TARGETS[@]}"; do
    rm -rf "out/$t"
    mkdir -p out
    echo "fuzz/run.sh: $t, $EXECUTIONS executions"
    limit=(-E "$EXECUTIONS")
    [ -n "${FUZZ_SECONDS:-}" ] && limit+=(-V "$FUZZ_SECONDS")
    # Seeds longer than twice the cap would only slow every mutation of them down.
    rm -rf "out/$t.in" && mkdir -p "out/$t.in"
    find "corpus/$t" -type f -size -$((2 * MAX_LEN[$t] + 1))c -exec cp {} "out/$t.in/" \;
    [ -n "$(ls -A "out/$t.in")" ] || cp "corpus/$t"/* "out/$t.in/"
    cargo afl fuzz -i "out/$t.in" -o "out/$t" "${limit[@]}" -G "${MAX_LEN[$t]}" -t 2000 "target/release/$t" >"out/$t.log" 2>&1 || true
    stats="out/$t/default/fuzzer_stats"
    execs=$(awk -F': *' '/^execs_done/{print $2}' "$stats")
    crashes=$(awk -F': *' '/^saved_crashes/{print $2}' "$stats")
    hangs=$(awk -F': *' '/^saved_hangs/{print $2}' "$stats")
    speed=$(awk -F': *' '/^execs_per_sec/{print $2}' "$stats")
    echo "fuzz/run.sh: $t: $execs executions ($speed/s), $crashes crashes, $hangs hangs"
    # The new corpus: AFL's queue, minimised; findings kept beside it for the replay test.
    rm -rf "out/$t.min"
    cargo afl cmin -i "out/$t/default/queue" -o "out/$t.min" -- "target/release/$t" >/dev/null 2>&1 || true
    if [ -n "$(ls -A "out/$t.min" 2>/dev/null)" ]; then
        # Earlier findings stay: they are the regression cases the replay test keeps checking.
        find "corpus/$t" -type f ! -name 'finding-*' -delete
        cp "out/$t.min"/* "corpus/$t/"
    else
        # afl-cmin traced nothing (seen for the roster target): keep AFL's own queue instead,
        # its small entries in discovery order, so the committed corpus stays small.
        find "out/$t/default/queue" -maxdepth 1 -type f -name 'id:*' -size -4k | sort | head -n 500 \
            | while read -r f; do cp "$f" "corpus/$t/"; done
    fi
    for f in "out/$t/default/crashes"/id:* "out/$t/default/hangs"/id:*; do
        [ -e "$f" ] && cp "$f" "corpus/$t/finding-$(basename "$f" | tr ':,' '__')"
    done
done
