#!/usr/bin/env bash
# Run the end-to-end tests (every NNNN-*.sh here, or those whose name contains
# the first argument), each under a timeout, and count their result lines.
# The last line is "N passed, N failed[, N skipped]"; exit 1 if anything failed.

set -u

dir=$(cd "$(dirname "$0")" && pwd)
filter=${1:-}
per_test_timeout=${E2E_TIMEOUT:-300}

passed=0
failed=0
skipped=0
ran=0
out=$(mktemp)
times=$(mktemp)
trap 'rm -f "$out" "$times"' EXIT
suite_start=$(date +%s)

for t in "$dir"/[0-9][0-9][0-9][0-9]-*.sh; do
    [ -e "$t" ] || continue
    name=$(basename "$t")
    case $name in *"$filter"*) ;; *) continue ;; esac
    # E2E_SKIP: a space-separated list of name prefixes left out of this pass
    skip_it=0
    for o in ${E2E_SKIP:-}; do
        case $name in "$o"*) skip_it=1 ;; esac
    done
    [ "$skip_it" = 1 ] && continue
    # E2E_ONLY: a space-separated list of name prefixes (the pair pass runs a chosen set)
    if [ -n "${E2E_ONLY:-}" ]; then
        wanted=0
        for o in $E2E_ONLY; do
            case $name in "$o"*) wanted=1 ;; esac
        done
        [ "$wanted" = 1 ] || continue
    fi
    ran=$((ran + 1))
    echo "# $name"
    t0=$(date +%s)
    timeout -k 10 "$per_test_timeout" bash "$t" 2>&1 | tee "$out"
    rc=${PIPESTATUS[0]}
    secs=$(($(date +%s) - t0))
    echo "$secs $name" >> "$times"
    echo "# $name took ${secs}s"
    p=$(grep -ac '^ok - ' "$out")
    f=$(grep -ac '^not ok - ' "$out")
    s=$(grep -ac '^skip - ' "$out")
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    if [ "$rc" -ne 0 ]; then
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            echo "not ok - $name: timed out after ${per_test_timeout}s"
        else
            echo "not ok - $name: exited with status $rc"
        fi
        failed=$((failed + 1))
    elif [ $((p + f + s)) -eq 0 ]; then
        echo "not ok - $name: printed no result"
        failed=$((failed + 1))
    fi
done

if [ "$ran" -eq 0 ]; then
    echo "not ok - no test script matches '$filter'"
    failed=$((failed + 1))
fi

echo "# took $(($(date +%s) - suite_start))s; the slowest:"
sort -rn "$times" | head -n 8 | sed 's/^/#   /'

if [ "$skipped" -gt 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
