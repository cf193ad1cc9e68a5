#!/bin/sh
# Runs every test suite against the release and the ASan+UBSan builds and
# prints one closing line: "N passed, N failed, N skipped".
# BERTH_E2E_ASAN=0 skips the e2e pass under ASan (it is on by default).
set -u
cd "$(dirname "$0")/.."
passed=0 failed=0 skipped=0
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

for b in build build-asan; do
	[ "$b" = build-asan ] && [ "${BERTH_E2E_ASAN:-1}" = 0 ] && continue
	echo "== end-to-end tests ($b/berth)"
	BERTH_BIN="$PWD/$b/berth" bash tests/e2e/run.sh > "$log/e2e-$b" 2>&1
	grep -E '^(not ok|skip) ' "$log/e2e-$b" | head -80
	grep -A12 '^not ok' "$log/e2e-$b" | grep -v '^not ok' | head -120
	count "$log/e2e-$b"
	grep -E "^# (took |  )" "$log/e2e-$b"
	tail -n 1 "$log/e2e-$b"
done

# The whole e2e suite once more with the metadata in PostgreSQL (each test its own database).
if [ -n "${BERTH_TEST_PG_HOST:-}" ] && [ "${BERTH_E2E_PG_PASS:-1}" = 1 ]; then
	echo "== end-to-end tests on PostgreSQL (build/berth --meta postgresql://...)"
	BERTH_E2E_PG="$BERTH_TEST_PG_HOST" BERTH_BIN="$PWD/build/berth" bash tests/e2e/run.sh > "$log/e2e-pg" 2>&1
	grep -E '^(not ok|skip) ' "$log/e2e-pg" | head -80
	grep -A12 '^not ok' "$log/e2e-pg" | grep -v '^not ok' | head -120
	count "$log/e2e-pg"
	grep -E "^# (took |  )" "$log/e2e-pg"
	tail -n 1 "$log/e2e-pg"
fi

# Two servers on one PostgreSQL database (and one bucket, when an S3 gateway runs) behind nginx,
# which sends each request to the next server: the OCI API and access tests, request by request
# alternating servers. Left out: 0070 (HTTP-level bad input, which nginx answers itself) and 0300
# (source addresses, which the proxy replaces); 0600 tests the shared state across servers directly.
pair_tests="0010 0020 0030 0040 0050 0060 0080 0100 0105 0106 0110 0200 0210 0220 0230 0240 0250 0251 0255 0256 0257 0260"
if [ -n "${BERTH_TEST_PG_HOST:-}" ] && [ "${BERTH_E2E_PAIR_PASS:-1}" = 1 ]; then
	if command -v nginx > /dev/null; then
		echo "== end-to-end tests on two servers behind nginx (build/berth, PostgreSQL${BERTH_E2E_S3_ENV:+, S3})"
		E2E_ONLY="$pair_tests" BERTH_E2E_PAIR=1 BERTH_E2E_PG="$BERTH_TEST_PG_HOST" BERTH_BIN="$PWD/build/berth" \
			bash tests/e2e/run.sh > "$log/e2e-pair" 2>&1
		grep -E '^(not ok|skip) ' "$log/e2e-pair" | head -80
		grep -A12 '^not ok' "$log/e2e-pair" | grep -v '^not ok' | head -120
		count "$log/e2e-pair"
		grep -E "^# (took |  )" "$log/e2e-pair"
		tail -n 1 "$log/e2e-pair"
	else
		echo "skip - the two-server pass needs nginx (scripts/deps.sh installs it)"
		skipped=$((skipped + 1))
	fi
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
