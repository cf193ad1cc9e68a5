#!/usr/bin/env bash
# berth backup and restore: a backup taken while skopeo pushes in a loop
# and gc runs with no grace, restored into a new folder and served: every
# image pushed before the backup began pulls with its digests, and every
# image the restored catalog lists pulls whole. A second backup into the
# same folder fetches only the new blobs; a copy onto another file system
# is verified, gc reaping blobs of its snapshot in the middle of it makes
# it take another, and one killed half-way does not look complete; restore
# refuses a non-empty target, a corrupt blob (naming it) and a backup that
# did not finish; PostgreSQL and S3 deployments are refused with what to
# use instead.
. "$(dirname "$0")/lib.sh"

if [ "$HAVE_SKOPEO" != 1 ]; then
    skip "skopeo is not installed (the backup is taken while skopeo pushes)"
    exit 0
fi
berth_start
BK=$WORK/backup

# ---- deployments a data folder's backup does not cover
refusal() { # refusal DESC PATTERN ARGS...: berth exits 1 with a message matching PATTERN
    local desc=$1 pat=$2 out rc
    shift 2
    out=$("$BERTH_BIN" "$@" 2>&1)
    rc=$?
    if [ "$rc" = 1 ] && [[ $out =~ $pat ]]; then
        ok "$desc"
    else
        fail "$desc" "exit $rc, expected 1" "$out"
    fi
}
# (the flags alone: a pass that keeps its metadata in PostgreSQL sets BERTH_META for every command)
BERTH_META='' BERTH_STORE='' refusal "backup with --meta postgresql:// is refused, naming pg_dump" 'pg_dump.*docs/operations.md' \
    backup --data "$DATA" --meta "postgresql://u@/db?host=/nonexistent" "$WORK/pgbk"
BERTH_META='' BERTH_STORE='' refusal "restore with --store s3:// is refused, naming the bucket's versioning or replication" \
    'versioning or replication' restore --data "$WORK/s3new" --store 's3://b?endpoint=http://127.0.0.1:9' "$BK"
check "a refused backup writes nothing" test ! -e "$WORK/pgbk"
if [ -n "${BERTH_META:-}" ] || [ -n "${BERTH_STORE:-}" ]; then
    refusal "this pass's own server (metadata or blobs outside the data folder) is refused" 'docs/operations.md' \
        backup --data "$DATA" "$BK"
    skip "the rest backs up a data folder's SQLite and files; this pass keeps them elsewhere"
    finish
fi

# ---- images: NIMG layouts of 2 layers each, pushed with skopeo
NIMG=14
for i in $(seq 0 $((NIMG - 1))); do
    make_oci_layout "$WORK/l$i" 2 || bail "build OCI layout $i"
done
mdigest() { digest_of "$(layout_manifest "$WORK/l$1")"; }

# push I REPO: push layout I as REPO:v1 with its own output file; a line in $PUSHLOG (pushed.log) once it is
# acknowledged.
push() {
    if timeout 120 skopeo --policy "$WORK/policy.json" copy --dest-tls-verify=false --retry-times 0 \
        "oci:$WORK/l$1:latest" "docker://$HOSTPORT/$2:v1" >"$WORK/push-$1.out" 2>&1; then
        echo "$1 $2" >>"${PUSHLOG:-$WORK/pushed.log}"
    fi
}
printf '{"default":[{"type":"insecureAcceptAnything"}]}' >"$WORK/policy.json"
: >"$WORK/pushed.log"
for i in 0 1 2; do push "$i" "app/img$i"; done
expect_eq "three images pushed before the backup" 3 "$(wc -l <"$WORK/pushed.log")"

# images that gc may take while the backup runs: pushed, then untagged
for i in 3 4; do PUSHLOG=$WORK/doomed.log push "$i" "doomed/img$i"; done
for i in 3 4; do
    req DELETE "/v2/doomed/img$i/manifests/$(mdigest "$i")"
done

# ---- the backup, while pushes go on and gc runs with no grace
(
    for i in $(seq 5 $((NIMG - 2))); do push "$i" "app/img$i"; done
) &
pusher=$!
EXTRA_PIDS+=("$pusher")
(
    while :; do
        "$BERTH_BIN" gc --data "$DATA" --grace 0 --no-progress >>"$WORK/gc.log" 2>&1
        sleep 0.2
    done
) &
gcloop=$!
EXTRA_PIDS+=("$gcloop")
# the first background push acknowledged: the pushers are well under way
for _ in $(seq 300); do
    [ "$(wc -l <"$WORK/pushed.log")" -ge 6 ] && break
    sleep 0.1
done
cp "$WORK/pushed.log" "$WORK/before.log"
t0=$(date +%s%N)
"$BERTH_BIN" backup --data "$DATA" --json "$BK" >"$WORK/bk1.json" 2>"$WORK/bk1.err"
rc=$?
t1=$(date +%s%N)
after_start=$(wc -l <"$WORK/pushed.log")
expect_eq "berth backup exits 0 while pushes and gc run" 0 "$rc"
[ "$rc" = 0 ] || bail "the backup" "$(cat "$WORK/bk1.err")"
echo "# backup 1: $(((t1 - t0) / 1000000)) ms, $(jq -c '{blobs, snapshots}' "$WORK/bk1.json")"
wait "$pusher"
kill "$gcloop" 2>/dev/null
wait "$gcloop" 2>/dev/null
n_before=$(wc -l <"$WORK/before.log")
n_all=$(wc -l <"$WORK/pushed.log")
check "pushes completed before the backup began ($n_before) and after it ($((n_all - after_start)) more)" \
    test "$n_before" -ge 6 -a "$n_all" -gt "$n_before"
jqq() { jq -e "$@" >/dev/null; }
check "backup.json holds the counts and the database's SHA-256" \
    jqq '.format == "berth-backup" and .formatVersion == 1 and .schemaVersion > 0 and .blobs.count > 0 and
        (.database.sha256 | length) == 64' "$BK/backup.json"
expect_eq "backup.json's SHA-256 is berth.db's" "$(jq -r .database.sha256 "$BK/backup.json")" \
    "$(sha256sum "$BK/berth.db" | cut -d' ' -f1)"
check "the backup holds the signing keys and the owner's first password" \
    test -n "$(ls "$BK/keys/"*.pem 2>/dev/null)" -a -s "$BK/initial-owner-password"
check "the database snapshot is one file (no -wal beside it)" test ! -e "$BK/berth.db-wal"
expect_eq "every blob file of the backup is one backup.json counts" "$(jq -r .blobs.count "$BK/backup.json")" \
    "$(find "$BK/blobs" -type f | wc -l)"
expect_eq "on the same file system every blob was hard-linked, none copied" \
    "$(jq -r '"\(.blobs.count) 0"' "$WORK/bk1.json")" "$(jq -r '"\(.blobs.linked + .blobs.present) \(.blobs.copied)"' "$WORK/bk1.json")"

# ---- a second backup into the same folder: only the new blobs
push $((NIMG - 1)) "app/late"
find "$BK/blobs" -type f -printf '%i %f\n' | sort >"$WORK/bk-files-1"
"$BERTH_BIN" backup --data "$DATA" --json "$BK" >"$WORK/bk2.json" 2>"$WORK/bk2.err" ||
    fail "the second backup exits 0" "$(cat "$WORK/bk2.err")"
find "$BK/blobs" -type f -printf '%i %f\n' | sort >"$WORK/bk-files-2"
new=$(comm -13 "$WORK/bk-files-1" "$WORK/bk-files-2" | wc -l)
kept=$(comm -12 "$WORK/bk-files-1" "$WORK/bk-files-2" | wc -l)
expect_eq "the second backup fetched exactly the blobs the folder lacked ($new)" "$new" \
    "$(jq -r '.blobs.linked + .blobs.copied' "$WORK/bk2.json")"
expect_eq "and kept the others as they were (same files: $kept)" "$kept" "$(jq -r '.blobs.present' "$WORK/bk2.json")"
check "the late image's blobs are among the new ones" test "$new" -ge 3

# ---- onto another file system: copies, each checked against its digest
if [ -d /dev/shm ] && [ "$(stat -c %d /dev/shm)" != "$(stat -c %d "$WORK")" ]; then
    SHM=$(mktemp -d /dev/shm/berth-e2e-backup.XXXXXX)
    CLEAN_DIRS+=("$SHM")
    if "$BERTH_BIN" backup --data "$DATA" --json "$SHM/bk" >"$WORK/bk3.json" 2>"$WORK/bk3.err"; then
        expect_eq "a backup onto another file system copies every blob" "$(jq -r .blobs.count "$WORK/bk3.json")" \
            "$(jq -r .blobs.copied "$WORK/bk3.json")"
        bad=0
        for f in $(find "$SHM/bk/blobs" -type f); do
            [ "$(sha256sum "$f" | cut -d' ' -f1)" = "$(basename "$f")" ] || bad=$((bad + 1))
        done
        expect_eq "every copied blob hashes to its name" 0 "$bad"
        "$BERTH_BIN" backup --data "$DATA" --json --verify "$SHM/bk" >"$WORK/bk4.json" 2>&1
        expect_eq "a second backup there with --verify copies nothing" 0 "$(jq -r .blobs.copied "$WORK/bk4.json")"

        # gc reaps blobs the snapshot references while the copy runs. Layers whose digests sort
        # first (0-7) are large, so they are still being copied when gc reaps the untagged
        # image's small layers, which sort last (f).
        python3 - "$WORK/g" <<'PY'
import hashlib, os, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
def make(name, size, ok):
    while True:
        b = os.urandom(size)
        if ok(hashlib.sha256(b).hexdigest()):
            open(os.path.join(d, name), "wb").write(b)
            return
for i in range(3):
    make("big%d" % i, 32 << 20, lambda h: h[0] in "01234567")
for i in range(4):
    make("small%d" % i, 4096, lambda h: h[0] == "f")
PY
        push_image gc/keep v1 "$WORK"/g/big* || bail "push the large image"
        push_image gc/doomed v1 "$WORK"/g/small* || bail "push the image gc will take"
        doomed_layers=("${IMG_LAYERS[@]}")
        req DELETE "/v2/gc/doomed/manifests/$IMG_DIGEST"
        "$BERTH_BIN" backup --data "$DATA" --json "$SHM/bkg" >"$WORK/bkg.json" 2>"$WORK/bkg.err" &
        bkpid=$!
        for _ in $(seq 1000); do # the copy under way: an upload file in the backup folder
            [ -n "$(ls "$SHM/bkg/uploads" 2>/dev/null)" ] && break
            kill -0 "$bkpid" 2>/dev/null || break
            sleep 0.01
        done
        "$BERTH_BIN" gc --data "$DATA" --grace 0 --no-progress >"$WORK/gc-race.log" 2>&1
        wait "$bkpid"
        rc=$?
        expect_eq "a backup exits 0 while gc reaps blobs its snapshot references" 0 "$rc"
        echo "# backup beside gc: $(jq -c '{blobs: {vanished: .blobs.vanished, copied: .blobs.copied}, snapshots}' \
            "$WORK/bkg.json" 2>/dev/null); gc: $(cat "$WORK/gc-race.log")"
        if [ "$(jq -r .blobs.vanished "$WORK/bkg.json")" -ge 1 ] 2>/dev/null; then
            check "blobs gc took after the snapshot made the backup take another ($(jq -r .snapshots "$WORK/bkg.json"))" \
                test "$(jq -r .snapshots "$WORK/bkg.json")" -ge 2
        else
            skip "gc finished after the copy had passed the untagged image's layers this time"
        fi
        left=0
        for d in "${doomed_layers[@]}"; do
            h=${d#sha256:}
            [ -e "$SHM/bkg/blobs/sha256/${h:0:2}/$h" ] && left=$((left + 1))
        done
        expect_eq "none of the reaped layers is in the backup" 0 "$left"
        "$BERTH_BIN" restore --data "$WORK/restored-g" "$SHM/bkg" >/dev/null 2>"$WORK/rsg.err"
        expect_eq "that backup restores: every blob its database references is in it" 0 "$?"

        # kill -9 in the middle of a copy: the folder does not look like a backup; a second run finishes it
        "$BERTH_BIN" backup --data "$DATA" --quiet "$SHM/bkk" &
        bkpid=$!
        for _ in $(seq 1000); do
            [ -n "$(ls "$SHM/bkk/uploads" 2>/dev/null)" ] && break
            kill -0 "$bkpid" 2>/dev/null || break
            sleep 0.01
        done
        kill -9 "$bkpid" 2>/dev/null
        wait "$bkpid" 2>/dev/null
        check "a backup killed in the middle of its copy leaves no backup.json" test ! -e "$SHM/bkk/backup.json"
        refusal "and restore refuses that folder" 'not a complete berth backup' restore --data "$WORK/new4" "$SHM/bkk"
        "$BERTH_BIN" backup --data "$DATA" --quiet "$SHM/bkk" 2>"$WORK/bkk.err"
        expect_eq "berth backup again into that folder finishes it" "0 0" \
            "$? $(find "$SHM/bkk/uploads" -type f | wc -l)"
        check "with its backup.json" test -s "$SHM/bkk/backup.json"
    else
        fail "a backup onto another file system" "$(cat "$WORK/bk3.err")"
    fi
else
    skip "no second file system at /dev/shm: the copy path is left to the unit tests"
fi

# ---- restore into a new folder and serve it
NEW=$WORK/restored
"$BERTH_BIN" restore --data "$NEW" --json "$BK" >"$WORK/rs.json" 2>"$WORK/rs.err"
expect_eq "berth restore exits 0" 0 "$?"
check "the restored folder has its database in place" test -s "$NEW/berth.db"
berth_stop
DATA=$NEW
berth_start

pull_ok() { # pull_ok REPO DEST: skopeo pulls REPO:v1 into DEST (it checks every blob's digest on the way)
    timeout 120 skopeo --policy "$WORK/policy.json" copy --src-tls-verify=false --retry-times 0 \
        "docker://$HOSTPORT/$1:v1" "oci:$2:v1" >"$WORK/pull.out" 2>&1
}
bad=""
while read -r i repo; do
    rm -rf "$WORK/pulled"
    if ! pull_ok "$repo" "$WORK/pulled" || [ "$(digest_of "$(layout_manifest "$WORK/pulled")")" != "$(mdigest "$i")" ]; then
        bad="$bad $repo"
    fi
done <"$WORK/before.log"
expect_eq "every image pushed before the backup began pulls from the restored server with its digest" "" "$bad"

req GET "/v2/_catalog?n=1000"
repos=$(jq -r '.repositories[]' "$BODY")
bad=""
n=0
for repo in $repos; do
    req GET "/v2/$repo/tags/list"
    for tag in $(jq -r '.tags // [] | .[]' "$BODY"); do
        rm -rf "$WORK/pulled"
        n=$((n + 1))
        timeout 120 skopeo --policy "$WORK/policy.json" copy --src-tls-verify=false --retry-times 0 \
            "docker://$HOSTPORT/$repo:$tag" "oci:$WORK/pulled:$tag" >"$WORK/pull.out" 2>&1 || bad="$bad $repo:$tag"
    done
done
check "the restored catalog lists the images pushed before the backup ($n tags)" test "$n" -ge "$n_before"
expect_eq "every tag the restored catalog lists pulls whole" "" "$bad"

# ---- what restore refuses
mkdir -p "$WORK/full"
echo x >"$WORK/full/something"
refusal "restore into a non-empty folder is refused" 'not empty' restore --data "$WORK/full" "$BK"
check "and it is left as it was" test "$(ls "$WORK/full")" = something

# a corrupt blob: in a copy of the backup (its files are hard links to the data folder's)
cp -r "$BK" "$WORK/bkc"
victim=$(find "$WORK/bkc/blobs" -type f | head -1)
printf 'X' | dd of="$victim" bs=1 seek=5 conv=notrunc 2>/dev/null
refusal "restore names a corrupt blob" "blob sha256:$(basename "$victim") in .* is corrupt" \
    restore --data "$WORK/new2" "$WORK/bkc"

# a backup that did not finish: no backup.json
cp -r "$BK" "$WORK/bki"
rm "$WORK/bki/backup.json"
refusal "restore refuses a backup without backup.json" 'not a complete berth backup' \
    restore --data "$WORK/new3" "$WORK/bki"
"$BERTH_BIN" restore "$BK" >/dev/null 2>&1
expect_eq "restore without --data is a usage error (exit 2)" 2 "$?"
finish
