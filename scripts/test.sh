#!/bin/sh
# Runs every test suite against the release and the ASan+UBSan builds and
# prints one closing line: "N passed, N failed, N skipped".
# BERTH_E2E_ASAN=0 skips the e2e pass under ASan (it is on by default).
set -u
cd "$(dirname "$0")/.."
passed=0 failed=0 skipped=0
run_start=$(date +%s)
log=$(mktemp -d /tmp/berth-test-XXXXXX)
# its own folder: the postgres user cannot enter $log (0700, root's)
pg=$(mktemp -d /tmp/berth-pg-XXXXXX)
rgw=$(mktemp -d /tmp/berth-rgw-XXXXXX)
trap 'sh scripts/pg.sh stop "$pg"; sh scripts/rgw.sh stop "$rgw"; rm -rf "$log" "$pg" "$rgw"' EXIT

# A PostgreSQL server for the metadata suite and the e2e pass on PostgreSQL (scripts/pg.sh).
if sh scripts/pg.sh start "$pg" > "$log/pg.out" 2>&1; then
	export BERTH_TEST_PG_HOST="$pg"
	echo "== PostgreSQL for the tests: socket in $pg"
else
	echo "skip - no PostgreSQL for the tests: $(tail -n 1 "$log/pg.out")"
	skipped=$((skipped + 1))
fi

# An S3 gateway (Ceph RGW, scripts/rgw.sh) for the S3 driver's tests and the two-server pass.
if sh scripts/rgw.sh start "$rgw" > "$log/rgw.out" 2>&1; then
	set -a
	. "$rgw/env"
	set +a
	export BERTH_E2E_S3_ENV="$rgw/env"
	echo "== S3 gateway for the tests: $BERTH_TEST_S3_ENDPOINT"
else
	echo "skip - no S3 gateway for the tests: $(tail -n 1 "$log/rgw.out")"
	skipped=$((skipped + 1))
fi

# count FILE: adds the "N passed, N failed[, N skipped]" closing line of FILE.
count() {
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -n 1)
	if [ -z "$line" ]; then
		echo "  no closing line: counted as 1 failure"
		failed=$((failed + 1))
		return
	fi
	p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
	s=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
	passed=$((passed + p)); failed=$((failed + f)); skipped=$((skipped + ${s:-0}))
}

export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=23"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"

for b in build build-asan; do
	echo "== unit tests ($b)"
	"$b/unit" > "$log/unit-$b" 2>&1
	grep -E '^(not ok|skip)|^  ' "$log/unit-$b" | head -50
	count "$log/unit-$b"
	tail -n 1 "$log/unit-$b"
done

echo "== generated docs are current"
for d in errors config metrics; do
	if build/berth doc "$d" | cmp -s - "docs/$d.md"; then
		echo "ok - docs/$d.md matches 'berth doc $d'"; passed=$((passed + 1))
	else
		echo "not ok - docs/$d.md is stale: run 'make docs'"; failed=$((failed + 1))
	fi
done

echo "== layering (scripts/check-layers.sh)"
for b in build build-asan; do
	if sh scripts/check-layers.sh "$b" > "$log/layers" 2>&1; then
		echo "$(tail -n 1 "$log/layers") [$b]"; passed=$((passed + 1))
	else
		cat "$log/layers"; echo "not ok - layering of $b"; failed=$((failed + 1))
	fi
done

echo "== fuzz corpus replay"
for b in build build-asan; do
	for f in "$b"/fuzz-*; do
		[ -x "$f" ] || continue
		t=${f##*/fuzz-}
		if [ ! -d "fuzz/corpus/$t" ]; then
			echo "not ok - $f: no corpus fuzz/corpus/$t"; failed=$((failed + 1)); continue
		fi
		if "$f" "fuzz/corpus/$t" > "$log/fuzz" 2>&1; then
			echo "ok - $f ($(tail -n 1 "$log/fuzz"))"; passed=$((passed + 1))
		else
			echo "not ok - $f"; tail -n 20 "$log/fuzz"; failed=$((failed + 1))
		fi
	done
done

# report TITLE FILE: a pass's failures, skips, timings and closing line, counted.
report() {
	echo "== $1"
	grep -E '^(not ok|skip) ' "$2" | head -80
	grep -A12 '^not ok' "$2" | grep -v '^not ok' | head -120
	count "$2"
	grep -E "^# (took |  )" "$2"
	tail -n 1 "$2"
}

# The two-server pass: two servers on one PostgreSQL database (and one bucket, when an S3 gateway
# runs) behind nginx, which sends each request to the next server: the OCI API and access tests,
# request by request alternating servers. Left out: 0070 (HTTP-level bad input, which nginx answers
# itself) and 0300 (source addresses, which the proxy replaces); 0600 tests the shared state across
# servers directly.
pair_tests="0010 0020 0030 0040 0050 0060 0080 0100 0105 0106 0110 0200 0210 0220 0230 0240 0250 0251 0255 0256 0257 0260"
# The PostgreSQL pass leaves out the tests whose subject is the client or the HTTP layer rather than
# the metadata: bad input refused before any lookup (0070), the Azure CLI and check-health's client
# side (0140, 0141, 0420-0424: most of them start their servers on SQLite anyway), and HTTP framing,
# connections and signals (0500-0550, 0511 through nginx), and installation, the package and the
# image (0700-0702). They run in the release and ASan passes.
pg_skip="0070 0140 0141 0420 0421 0422 0423 0424 0500 0510 0511 0520 0530 0540 0550 0700 0701 0702"
pg_pass=0 pair_pass=0
[ -n "${BERTH_TEST_PG_HOST:-}" ] && [ "${BERTH_E2E_PG_PASS:-1}" = 1 ] && pg_pass=1
if [ -n "${BERTH_TEST_PG_HOST:-}" ] && [ "${BERTH_E2E_PAIR_PASS:-1}" = 1 ]; then
	if command -v nginx > /dev/null; then
		pair_pass=1
	else
		echo "skip - the two-server pass needs nginx (scripts/deps.sh installs it)"
		skipped=$((skipped + 1))
	fi
fi
e2e() { # e2e FILE ENV...: the e2e suite with ENV into FILE
	out=$1
	shift
	env "$@" bash tests/e2e/run.sh > "$out" 2>&1
}
# Two lanes (BERTH_TEST_LANES=1: one after another): the ASan pass and then the two-server pass beside
# the release pass and then the PostgreSQL pass. Much of an e2e test's time is spent waiting
# (timeouts, soaks, clients starting), so two lanes share two cores well; every test has its own
# folder, ports, database and bucket.
lane_a() {
	[ "${BERTH_E2E_ASAN:-1}" = 0 ] || e2e "$log/e2e-build-asan" BERTH_BIN="$PWD/build-asan/berth"
	[ "$pair_pass" = 1 ] && e2e "$log/e2e-pair" E2E_ONLY="$pair_tests" BERTH_E2E_PAIR=1 \
		BERTH_E2E_PG="$BERTH_TEST_PG_HOST" BERTH_BIN="$PWD/build/berth"
	return 0
}
lane_b() {
	e2e "$log/e2e-build" BERTH_BIN="$PWD/build/berth"
	# the e2e suite once more with the metadata in PostgreSQL (each test its own database)
	[ "$pg_pass" = 1 ] && e2e "$log/e2e-pg" E2E_SKIP="$pg_skip" BERTH_E2E_PG="$BERTH_TEST_PG_HOST" \
		BERTH_BIN="$PWD/build/berth"
	return 0
}
echo "== end-to-end tests: release, ASan$([ "$pg_pass" = 1 ] && echo ", PostgreSQL")$([ "$pair_pass" = 1 ] && echo ", two servers") (started $(date -u +%H:%M:%S))"
e2e_start=$(date +%s)
if [ "${BERTH_TEST_LANES:-2}" -ge 2 ]; then
	lane_a &
	lane_a_pid=$!
	lane_b
	wait "$lane_a_pid"
else
	lane_b
	lane_a
fi
echo "== the end-to-end passes took $(($(date +%s) - e2e_start)) s"
report "end-to-end tests (build/berth)" "$log/e2e-build"
[ "${BERTH_E2E_ASAN:-1}" = 0 ] || report "end-to-end tests (build-asan/berth)" "$log/e2e-build-asan"
[ "$pg_pass" = 1 ] && report "end-to-end tests on PostgreSQL (build/berth --meta postgresql://...)" "$log/e2e-pg"
[ "$pair_pass" = 1 ] && report "end-to-end tests on two servers behind nginx (build/berth, PostgreSQL${BERTH_E2E_S3_ENV:+, S3})" "$log/e2e-pair"

echo "== make test took $(($(date +%s) - run_start)) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
