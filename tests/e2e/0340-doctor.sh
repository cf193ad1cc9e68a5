#!/usr/bin/env bash
# berth doctor and berth serve --check against real data folders: a folder a
# server has run on, with images pushed by curl and skopeo, passes; each
# breakage (a key file open to others, a schema from a newer berth, a damaged
# database page, also one of manifest_blobs, uploads/ that is a file, a clock
# behind the data, a certificate about to expire or with the wrong key) gives
# its exit status and its exact code, in text and in JSON; serve
# --check never listens. Then /readyz on a running server turns unready with
# the code when the keys are opened to others, and ready again once fixed.
. "$(dirname "$0")/lib.sh"
# The data-folder checks read and damage the SQLite file itself: this test keeps SQLite even in the
# PostgreSQL pass of make test (PostgreSQL's inspect is covered by tests/unit/test_meta.c).
unset BERTH_E2E_PG BERTH_META
work_init
if [ ! -x "$BERTH_BIN" ]; then
    skip "berth binary not found at $BERTH_BIN"
    exit 0
fi

# doctor ARGS...: runs berth doctor; sets RC, OUT (stdout) and ERR (stderr).
doctor() {
    OUT=$(timeout 60 "$BERTH_BIN" doctor "$@" 2>"$WORK/doctor.err")
    RC=$?
    ERR=$(cat "$WORK/doctor.err")
}

# expect_doctor DESC RC CODE STATUS ARGS...: berth doctor ARGS exits RC and a line
# "STATUS  <check>  CODE: ..." is printed (CODE "" checks only the status).
expect_doctor() {
    local desc=$1 rc=$2 code=$3 status=$4
    shift 4
    doctor "$@"
    if [ "$RC" != "$rc" ]; then
        fail "$desc: exit $rc" "got exit $RC" "$OUT" "$ERR"
    elif [ -n "$code" ] && ! grep -Eq "^$status +[a-zA-Z ]+ +$code: " <<<"$OUT"; then
        fail "$desc: a $status line with $code" "$OUT"
    else
        ok "$desc: exit $rc${code:+, $status $code}"
    fi
}

# copy NAME: a copy of the served data folder to break.
copy() {
    rm -rf "$WORK/$1"
    cp -a "$DATA" "$WORK/$1"
    echo "$WORK/$1"
}

# jqe ARGS...: jq -e ARGS with the result unprinted (the exit status says it).
jqe() {
    jq -e "$@" >/dev/null
}

set_user_version() {
    python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA user_version = %d" % int(sys.argv[2]))
db.commit()' "$1" "$2"
}

# ---- before any server: nothing there
expect_doctor "a data folder that does not exist" 1 DATA_DIR_MISSING ERROR --data "$WORK/nowhere"
mkdir -p "$WORK/empty"
expect_doctor "an empty folder only warns" 0 KEYS_MISSING WARNING --data "$WORK/empty"
check "the empty folder's database is only a warning too" grep -Eq '^WARNING +database +DB_SCHEMA_OLD: ' <<<"$OUT"
check "checking created no database and no keys" test ! -e "$WORK/empty/berth.db" -a ! -e "$WORK/empty/keys"
doctor --data "$WORK/empty" --no-such-flag
expect_eq "an unknown option is a usage error (exit 2)" 2 "$RC"
check "naming the option" grep -q -- "--no-such-flag" <<<"$ERR"
doctor --help
expect_eq "doctor --help exits 0" 0 "$RC"

# ---- a folder a server has run on, with images pushed (manifests and their references in the database)
berth_start
push_image team/app v1 || bail "push team/app:v1"
push_image team/app v2 || bail "push team/app:v2"
if command -v skopeo >/dev/null; then
    make_oci_layout "$WORK/layout" 2 >/dev/null
    skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout:latest" "docker://$HOSTPORT/team/sk:latest" \
        >"$WORK/sk.out" 2>&1 || fail "skopeo pushes team/sk:latest" "$(cat "$WORK/sk.out")"
else
    skip "skopeo not installed: the database checked after curl pushes only"
fi
berth_stop
check "the pushes left references in the database" \
    test "$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT count(*) FROM manifest_blobs").fetchone()[0])' "$DATA/berth.db")" -ge 6
expect_doctor "a served data folder passes" 0 "" OK --data "$DATA"
expect_eq "five checks, each OK" "5 5" "$(grep -c . <<<"$OUT") $(grep -Ec '^OK      [a-zA-Z ]{16} ' <<<"$OUT")"
check "the data folder line says writable and free space" grep -Eq "^OK      data folder      $DATA is writable, [0-9.]+ [GM]iB free$" <<<"$OUT"
doctor --data "$DATA" --json
expect_eq "--json exits 0 too" 0 "$RC"
check "--json parses: ok true, five checks with name, status, code, message and fix" \
    jqe '.ok == true and (.checks | length) == 5 and all(.checks[]; .status == "OK" and .code == "" and .fix == ""
        and (.name | type) == "string" and (.message | length) > 0)' <<<"$OUT"
check "--json names the checks in order" \
    jqe '[.checks[].name] == ["data folder","database","signing keys","TLS","clock"]' <<<"$OUT"

# serve --check: the same checks with serve's own flags, then exit without listening
PORT=$(free_port)
timeout 30 "$BERTH_BIN" serve --check --listen "127.0.0.1:$PORT" --data "$DATA" >"$WORK/check.out" 2>&1 &
CHECK_PID=$!
EXTRA_PIDS+=("$CHECK_PID")
wait "$CHECK_PID"
expect_eq "serve --check on the served folder exits 0" 0 "$?"
check "serve --check prints the doctor's lines" grep -Eq '^OK      signing keys     ' "$WORK/check.out"
check "serve --check did not listen" \
    test "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$PORT/v2/")" = 000

# ---- each breakage, on its own copy
d=$(copy keys-open)
key=$(ls "$d"/keys/*.pem | head -n 1)
chmod 644 "$key"
expect_doctor "a key file mode 0644" 1 KEYS_PERMISSIONS ERROR --data "$d"
check "the message names the file and its mode" grep -Fq "KEYS_PERMISSIONS: $key is readable by others (mode 0644)" <<<"$OUT"
check "the fix line is the chmod" grep -Eq "^ +fix: chmod 600 $key\$" <<<"$OUT"
doctor --data "$d" --json
check "--json: ok false, the keys check an ERROR with its code and fix" \
    jqe --arg fix "chmod 600 $key" '.ok == false and (.checks[] | select(.name == "signing keys")
        | .status == "ERROR" and .code == "KEYS_PERMISSIONS" and .fix == $fix)' <<<"$OUT"
timeout 30 "$BERTH_BIN" serve --check --data "$d" >"$WORK/check.out" 2>&1
expect_eq "serve --check exits 1 on it" 1 "$?"
check "serve --check names the code" grep -q "KEYS_PERMISSIONS" "$WORK/check.out"
chmod 755 "$d/keys"
chmod 600 "$key"
expect_doctor "the keys folder mode 0755" 1 KEYS_PERMISSIONS ERROR --data "$d"
check "its fix is chmod 700" grep -Eq "^ +fix: chmod 700 $d/keys\$" <<<"$OUT"

d=$(copy newer)
set_user_version "$d/berth.db" 999
expect_doctor "a schema version from a newer berth" 1 DB_SCHEMA_NEWER ERROR --data "$d"
set_user_version "$d/berth.db" 1
expect_doctor "an older schema version only warns" 0 DB_SCHEMA_OLD WARNING --data "$d"
expect_eq "and the check did not migrate it" 1 \
    "$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA user_version").fetchone()[0])' "$d/berth.db")"

d=$(copy corrupt)
python3 -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(4096)
    f.write(b"\xa5" * 512)' "$d/berth.db"
expect_doctor "a damaged database page" 1 DB_CORRUPT ERROR --data "$d"

# a damaged page of the table SQLite 3.40 reports NULL values in for every healthy row
d=$(copy corrupt-refs)
python3 -c 'import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
page_size = db.execute("PRAGMA page_size").fetchone()[0]
root = db.execute("SELECT rootpage FROM sqlite_schema WHERE name = ?", ("manifest_blobs",)).fetchone()[0]
db.close()
with open(sys.argv[1], "r+b") as f:
    f.seek((root - 1) * page_size)
    f.write(b"\xa5" * 512)' "$d/berth.db"
expect_doctor "a damaged page of manifest_blobs" 1 DB_CORRUPT ERROR --data "$d"

d=$(copy uploads-file)
rm -rf "$d/uploads"
: >"$d/uploads"
expect_doctor "uploads/ replaced by a file (chmod does not stop root)" 1 DATA_DIR_NOT_WRITABLE ERROR --data "$d"

d=$(copy clock)
touch -d '+2 hours' "$d/berth.db"
expect_doctor "the database written two hours from now: the clock is behind" 1 CLOCK_BEHIND ERROR --data "$d"
expect_doctor "two hours is beyond --leeway 600 too" 1 CLOCK_BEHIND ERROR --data "$d" --leeway 600
touch -d '+5 minutes' "$d/berth.db"
expect_doctor "five minutes ahead with --leeway 600 passes" 0 "" OK --data "$d" --leeway 600

# ---- TLS (certificates made by openssl; the expired and not-yet-valid ones are in the unit tests)
if command -v openssl >/dev/null; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -days 5 \
        -keyout "$WORK/soon.key" -out "$WORK/soon.crt" 2>/dev/null
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -days 90 \
        -keyout "$WORK/good.key" -out "$WORK/good.crt" 2>/dev/null
    expect_doctor "a certificate valid for 90 days" 0 "" OK --data "$DATA" --tls-cert "$WORK/good.crt" --tls-key "$WORK/good.key"
    check "the TLS line gives its end date" grep -Eq "^OK      TLS              $WORK/good.crt is valid until " <<<"$OUT"
    expect_doctor "a certificate that expires in 5 days warns" 0 TLS_CERT_EXPIRING WARNING \
        --data "$DATA" --tls-cert "$WORK/soon.crt" --tls-key "$WORK/soon.key"
    expect_doctor "a certificate with another's key" 1 TLS_KEY_MISMATCH ERROR \
        --data "$DATA" --tls-cert "$WORK/good.crt" --tls-key "$WORK/soon.key"
    expect_doctor "a certificate file that is not one" 1 TLS_CERT_UNREADABLE ERROR \
        --data "$DATA" --tls-cert "$WORK/good.key" --tls-key "$WORK/good.key"
    timeout 30 "$BERTH_BIN" serve --check --data "$DATA" --tls-cert "$WORK/good.crt" --tls-key "$WORK/soon.key" \
        >"$WORK/check.out" 2>&1
    expect_eq "serve --check with the mismatched pair exits 1" 1 "$?"
    check "naming TLS_KEY_MISMATCH" grep -q "TLS_KEY_MISMATCH" "$WORK/check.out"

    # a server on HTTPS with the certificate that expires soon: ready, with the warning's code
    PORT=$(free_port)
    "$BERTH_BIN" serve --listen "127.0.0.1:$PORT" --data "$DATA" --auth false --tls-cert "$WORK/soon.crt" \
        --tls-key "$WORK/soon.key" >>"$SRV_LOG" 2>&1 &
    BERTH_PID=$!
    SERVER_PIDS+=("$BERTH_PID")
    code=000
    for _ in $(seq 100); do
        code=$(curl -sk -o "$WORK/ready.json" -m 2 -w '%{http_code}' "https://127.0.0.1:$PORT/readyz")
        [ "$code" != 000 ] && break
        sleep 0.1
    done
    expect_eq "HTTPS /readyz with a certificate expiring in 5 days is 200" 200 "$code"
    check "and reports tls TLS_CERT_EXPIRING as a WARNING" \
        jqe '.status == "ready" and .checks.tls == "TLS_CERT_EXPIRING"
            and (.details[] | select(.name == "TLS") | .status == "WARNING")' "$WORK/ready.json"
    berth_stop
else
    skip "no openssl command: TLS checked by the unit tests only"
fi

# ---- /readyz on a running server follows a breakage and its fix.
# A 503 from /readyz is a health answer, not an OCI error: no error body to check.
berth_start
HDR_CHECK=0
req GET /readyz
expect_status 200 "GET /readyz is 200 on a healthy server"
check "readyz: ready, with the old check names and per-check details" \
    jqe '.status == "ready" and .checks.store == "ok" and .checks.database == "ok" and .checks.keys == "ok"
        and (.details | length) == 4 and all(.details[]; .status == "OK" and .code == "")' "$BODY"
check "readyz names no server path" bash -c "! grep -q '$DATA' '$BODY'"
doctor --data "$DATA"
expect_eq "berth doctor beside the running server exits 0" 0 "$RC"
chmod 755 "$DATA/keys"
req GET /readyz
expect_status 503 "GET /readyz is 503 once the keys folder is world-readable"
check "readyz: unready, keys KEYS_PERMISSIONS, the rest still ok" \
    jqe '.status == "unready" and .checks.keys == "KEYS_PERMISSIONS" and .checks.store == "ok"
        and .checks.database == "ok" and (.details[] | select(.name == "signing keys")
        | .status == "ERROR" and .code == "KEYS_PERMISSIONS")' "$BODY"
check "the server log has the message" grep -q 'readyz: signing keys.*code=KEYS_PERMISSIONS' "$SRV_LOG"
chmod 700 "$DATA/keys"
req GET /readyz
expect_status 200 "GET /readyz is 200 again after chmod 700"
key=$(ls "$DATA"/keys/*.pem | head -n 1)
chmod 640 "$key"
req GET /readyz
expect_status 503 "GET /readyz is 503 while a key file is group-readable"
check "naming KEYS_PERMISSIONS" jqe '.checks.keys == "KEYS_PERMISSIONS"' "$BODY"
chmod 600 "$key"
req GET /readyz
expect_status 200 "GET /readyz is 200 again after chmod 600"
HDR_CHECK=1
check "no probe file is left behind" bash -c "! ls -A '$DATA' '$DATA/uploads' | grep -q '^\\.doctor-'"
berth_stop

# ---- a full disk: a server on a small tmpfs, filled up, names the cause
MNT=$WORK/small
mkdir -p "$MNT"
if mount -t tmpfs -o size=128m tmpfs "$MNT" 2>/dev/null; then
    trap 'umount -l "$MNT" 2>/dev/null; cleanup' EXIT
    DATA=$MNT/data
    berth_start
    HDR_CHECK=0
    dd if=/dev/zero of="$MNT/filler" bs=1M count=200 2>/dev/null
    req GET /readyz
    expect_status 503 "GET /readyz is 503 on a full disk"
    check "readyz names the cause: store DISK_FULL, not DATA_DIR_NOT_WRITABLE" \
        jqe '.status == "unready" and .checks.store == "DISK_FULL"' "$BODY"
    check "the server log says no space is left" grep -q 'readyz: data folder.*code=DISK_FULL.*no space left' "$SRV_LOG"
    doctor --data "$DATA"
    expect_eq "berth doctor on the full disk exits 1" 1 "$RC"
    check "and names DISK_FULL with the fix" grep -Eq '^ERROR +data folder +DISK_FULL: no space left' <<<"$OUT"
    rm -f "$MNT/filler"
    req GET /readyz
    expect_status 200 "GET /readyz is 200 again once space is freed (128 MiB: a low-space warning only)"
    HDR_CHECK=1
    berth_stop
    umount -l "$MNT"
else
    skip "cannot mount a tmpfs here: the full disk is checked by the unit tests only"
fi
finish
