#!/usr/bin/env bash
# berth migrate: images, an index, a referrer, an upload in progress and every
# kind of login pushed into a server on SQLite; that data set migrated to
# PostgreSQL metadata and a new data folder, served from there (every image
# pulled back with its digests, tags, referrers; the logins, a refresh token
# the first server issued, the upload going on), migrated back to a fresh
# SQLite folder and served again; a non-empty target refused; a larger
# migration killed with -9 half-way, then finished by running it again.
. "$(dirname "$0")/lib.sh"

# The databases are this test's own, so it also runs in make test's passes on SQLite (release and ASan)
# when a PostgreSQL server is up for the metadata suite (BERTH_TEST_PG_HOST).
PGSOCK=${BERTH_E2E_PG:-${BERTH_TEST_PG_HOST:-}}
if [ -z "$PGSOCK" ]; then
    skip "needs BERTH_E2E_PG, a PostgreSQL socket folder (PG=\$(mktemp -d); sh scripts/pg.sh start \$PG)"
    exit 0
fi
command -v psql >/dev/null 2>&1 || { skip "needs psql"; exit 0; }

E2E_META=sqlite # each server's metadata is named here: berth_start makes no database of its own
work_init
SRC=$WORK/src
DATA=$SRC
LS=default.localhost

# new_db NAME: a fresh PostgreSQL database; prints its DSN (with a password the server never asks for).
new_db() {
    local db=t_$(basename "$WORK" | tr -c 'a-zA-Z0-9_\n' '_')_$1
    psql -h "$PGSOCK" -U postgres -qc "CREATE DATABASE \"$db\"" postgres >/dev/null 2>&1 || bail "create database $db"
    echo "postgresql://postgres:pw-not-shown@/$db?host=$PGSOCK"
}
# sql DSN QUERY: one value
sql() { psql "$1" -tAqc "$2" 2>/dev/null; }

# migrate ARGS...: berth migrate, stdout in migrate.out, stderr in migrate.err (and kept in migrate-all.err)
migrate() {
    local rc
    "$BERTH_BIN" migrate "$@" >"$WORK/migrate.out" 2>"$WORK/migrate.err"
    rc=$?
    cat "$WORK/migrate.err" >>"$WORK/migrate-all.err"
    return $rc
}

BERTH_AUTH=1 berth_start
PW=$(cat "$SRC/initial-owner-password")
OWN=(-u "owner:$PW")
mkdir -p "$WORK/owner"
printf 'user = "owner:%s"\n' "$PW" >"$WORK/owner/.curlrc"
# as_owner CMD...: the lib's push helpers, with the owner's Basic credentials (curl reads $CURL_HOME/.curlrc)
as_owner() { CURL_HOME=$WORK/owner "$@"; }

# ---- the data set
rand_file "$WORK/shared" 3000
as_owner push_image team/app v1 "$WORK/shared" || bail "push team/app:v1"
IMG1=$IMG_DIGEST
IMG1_FILE=$IMG_MANIFEST
as_owner push_image team/app v2 "$WORK/shared" || bail "push team/app:v2"
IMG2=$IMG_DIGEST
as_owner push_image team/lib 1.0 "$WORK/shared" || bail "push team/lib:1.0 (a layer shared with team/app)"
printf '{"schemaVersion":2,"mediaType":"%s","manifests":[{"mediaType":"%s","digest":"%s","size":%s,"platform":{"architecture":"amd64","os":"linux"}},{"mediaType":"%s","digest":"%s","size":%s,"platform":{"architecture":"arm64","os":"linux"}}]}' \
    "$MT_OCI_INDEX" "$MT_OCI_MANIFEST" "$IMG1" "$(file_size "$IMG1_FILE")" "$MT_OCI_MANIFEST" "$IMG2" \
    "$(file_size "$IMG_MANIFEST")" >"$WORK/index.json"
as_owner push_manifest team/app multi "$WORK/index.json" "$MT_OCI_INDEX" || bail "push the index team/app:multi"
as_owner push_empty_config team/app || bail "push the empty config"
rand_file "$WORK/sig" 500
as_owner push_blob team/app "$WORK/sig" || bail "push a signature blob"
printf '{"schemaVersion":2,"mediaType":"%s","artifactType":"application/vnd.example.sig","config":%s,"layers":[%s],"subject":{"mediaType":"%s","digest":"%s","size":%s}}' \
    "$MT_OCI_MANIFEST" "$(desc_json "$MT_OCI_EMPTY" "$WORK/empty.json")" "$(desc_json application/octet-stream "$WORK/sig")" \
    "$MT_OCI_MANIFEST" "$IMG1" "$(file_size "$IMG1_FILE")" >"$WORK/sig.json"
as_owner push_manifest team/app "$(digest_of "$WORK/sig.json")" "$WORK/sig.json" "$MT_OCI_MANIFEST" || bail "push a referrer of v1"
if [ "$HAVE_SKOPEO" = 1 ]; then
    make_oci_layout "$WORK/layout" 3 || bail "build an OCI layout"
    if sk copy --dest-tls-verify=false --dest-creds "owner:$PW" "oci:$WORK/layout:latest" "docker://$HOSTPORT/team/sk:latest"; then
        ok "skopeo pushes an image to the SQLite server"
    else
        fail "skopeo pushes an image to the SQLite server" "$(tail -c 400 "$WORK/skopeo.out")"
    fi
fi
ok "pushed images, an index and a referrer to the SQLite server"

# every kind of login
req POST /api/v1/users "${OWN[@]}" -H 'Content-Type: application/json' --data-binary '{"name":"alice","password":"alice-password-1"}'
expect_status 201 "create the user alice"
req POST /api/v1/roleAssignments "${OWN[@]}" -H 'Content-Type: application/json' \
    --data-binary '{"principal":"alice","role":"AcrPull","scope":"/registries/default"}'
expect_status 201 "alice may pull"
req POST /api/v1/registries/default/tokens "${OWN[@]}" -H 'Content-Type: application/json' \
    --data-binary '{"name":"ci-pull","scopeMapId":"_repositories_pull"}'
expect_status 201 "a repository token ci-pull"
TPW=$(jq -r '.credentials.passwords[] | select(.name=="password1") | .value' "$BODY")
req PATCH /api/v1/registries/default "${OWN[@]}" -H 'Content-Type: application/json' --data-binary '{"adminUserEnabled":true}'
req POST /api/v1/registries/default/credentials/regenerate "${OWN[@]}" -H 'Content-Type: application/json' \
    --data-binary '{"name":"password"}'
expect_status 200 "the admin user's password"
APW=$(jq -r '.passwords[] | select(.name=="password") | .value' "$BODY")
req GET "/oauth2/token?service=$LS&scope=repository:team/app:pull&offline_token=true&client_id=docker" "${OWN[@]}"
expect_status 200 "the SQLite server issues a refresh token"
RT=$(jq -r .refresh_token "$BODY")

# an upload in progress: the first half of a blob
rand_file "$WORK/half" 200000
HALF_D=$(digest_of "$WORK/half")
head -c 100000 "$WORK/half" >"$WORK/half.1"
tail -c 100000 "$WORK/half" >"$WORK/half.2"
req POST /v2/team/app/blobs/uploads/ "${OWN[@]}"
UP=$(loc_path "$(hdr Location)")
req PATCH "$UP" "${OWN[@]}" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 0-99999' --data-binary "@$WORK/half.1"
expect_status 202 "an upload in progress holds its first 100000 bytes"
UP=$(loc_path "$(hdr Location)")

# snapshot OUT: the catalog, tags, manifests, blobs read back (with the digest of what came), children, referrers
snapshot() {
    local out=$1 repo tag d x
    : >"$out"
    req GET "/v2/_catalog?n=1000" "${OWN[@]}"
    jq -r '.repositories[]' "$BODY" >"$WORK/repos"
    echo "catalog $(tr '\n' ' ' <"$WORK/repos")" >>"$out"
    while read -r repo; do
        req GET "/v2/$repo/tags/list" "${OWN[@]}"
        jq -r '.tags[]' "$BODY" | sort >"$WORK/tags"
        echo "tags $repo $(tr '\n' ' ' <"$WORK/tags")" >>"$out"
        while read -r tag; do
            req GET "/v2/$repo/manifests/$tag" "${OWN[@]}" -H "$ACCEPT_MANIFESTS"
            d=$(digest_of "$BODY")
            cp "$BODY" "$WORK/snap.json"
            echo "manifest $repo:$tag $STATUS $d" >>"$out"
            for x in $(jq -r '(.config.digest // empty), (.layers // [] | .[].digest)' "$WORK/snap.json"); do
                req GET "/v2/$repo/blobs/$x" "${OWN[@]}"
                echo "blob $repo $x $STATUS $(digest_of "$BODY")" >>"$out"
            done
            for x in $(jq -r '.manifests // [] | .[].digest' "$WORK/snap.json"); do
                req GET "/v2/$repo/manifests/$x" "${OWN[@]}" -H "$ACCEPT_MANIFESTS"
                echo "child $repo $x $STATUS $(digest_of "$BODY")" >>"$out"
            done
            req GET "/v2/$repo/referrers/$d" "${OWN[@]}"
            echo "referrers $repo:$tag $(jq -c '[.manifests[] | .digest + " " + (.artifactType // "")] | sort' "$BODY")" >>"$out"
        done <"$WORK/tags"
    done <"$WORK/repos"
}

# same_as WANT GOT DESC: two snapshots are the same; names the first difference
same_as() {
    if cmp -s "$1" "$2"; then
        ok "$3 ($(wc -l <"$1") lines: catalog, tags, manifests, blobs, children, referrers)"
    else
        fail "$3" "$(diff "$1" "$2" | head -n 6 | tr '\n' '|')"
    fi
}

# logins_work WHERE: every credential of the data set, at the server now running
logins_work() {
    local w=$1 at
    req GET /v2/ "${OWN[@]}"
    expect_status 200 "$w: the owner logs in with the password from initial-owner-password"
    req GET /v2/ -u "owner:wrong-password"
    expect_error 401 UNAUTHORIZED "$w: a wrong password is still refused"
    req HEAD /v2/team/app/manifests/v1 -u "alice:alice-password-1" -H "$ACCEPT_MANIFESTS"
    expect_status 200 "$w: alice pulls with her password and her AcrPull role"
    req HEAD /v2/team/lib/manifests/1.0 -u "ci-pull:$TPW" -H "$ACCEPT_MANIFESTS"
    expect_status 200 "$w: the repository token ci-pull pulls"
    req HEAD /v2/team/app/manifests/v2 -u "default:$APW" -H "$ACCEPT_MANIFESTS"
    expect_status 200 "$w: the admin user logs in"
    req POST /oauth2/token --data-urlencode grant_type=refresh_token --data-urlencode "service=$LS" \
        --data-urlencode "scope=repository:team/app:pull" --data-urlencode "refresh_token=$RT"
    expect_status 200 "$w: a refresh token the first server issued still works (signing keys and tenant moved)"
    at=$(jq -r .access_token "$BODY")
    req GET /v2/team/app/tags/list -H "Authorization: Bearer $at"
    expect_status 200 "$w: its access token reads team/app"
}

snapshot "$WORK/before.txt"
check "the snapshot covers every repository" grep -q "^catalog team/app team/lib " "$WORK/before.txt"
check "the snapshot shows the referrer" grep -q 'application/vnd.example.sig' "$WORK/before.txt"
berth_stop

# ---- SQLite -> PostgreSQL and a new data folder
PGDSN=$(new_db pg)
PGDATA=$WORK/pg
if migrate --from-data "$SRC" --to-data "$PGDATA" --to-meta "$PGDSN" --progress; then
    ok "berth migrate SQLite -> PostgreSQL exits 0"
else
    fail "berth migrate SQLite -> PostgreSQL exits 0" "$(tail -n 5 "$WORK/migrate.err")"
fi
check "the summary says what was copied and verified" grep -q '^migrate: verified: every table' "$WORK/migrate.out"
check "progress lines go to stderr: blobs with MiB/s, tables and rows" \
    bash -c "grep -q 'migrate: blobs .* copied, .*/s' '$WORK/migrate.err' && grep -q 'migrate: metadata: ' '$WORK/migrate.err'"
check "the DSN's password is never printed" bash -c "! grep -q pw-not-shown '$WORK/migrate.out' '$WORK/migrate.err'"
check "the upload in progress was copied" grep -q 'upload sessions in progress: 1 copied' "$WORK/migrate.out"
expect_eq "the signing key moved into PostgreSQL, where every server finds it" \
    "$(ls "$SRC/keys" | sed 's/\.pem$//' | sort | tr '\n' ' ')" \
    "$(sql "$PGDSN" 'SELECT kid FROM signing_keys ORDER BY kid' | tr '\n' ' ')"
check "and no key file is left in the new data folder" bash -c "! ls '$PGDATA'/keys/*.pem 2>/dev/null"
check "initial-owner-password moved" cmp -s "$SRC/initial-owner-password" "$PGDATA/initial-owner-password"
expect_eq "PostgreSQL holds the registries" 1 "$(sql "$PGDSN" 'SELECT count(*) FROM registries')"
check "the registry's ids go on after the copied ones" \
    test "$(sql "$PGDSN" "SELECT nextval(pg_get_serial_sequence('manifests', 'id')) > max(id) FROM manifests")" = t

DATA=$PGDATA
BERTH_AUTH=1 berth_start --meta "$PGDSN"
check "the server on PostgreSQL made no new owner password" cmp -s "$SRC/initial-owner-password" "$PGDATA/initial-owner-password"
snapshot "$WORK/pg.txt"
same_as "$WORK/before.txt" "$WORK/pg.txt" "PostgreSQL: every image pulls back with its digests, tags and referrers"
logins_work PostgreSQL
if [ "$HAVE_SKOPEO" = 1 ]; then
    if sk copy --src-tls-verify=false --src-creds "owner:$PW" "docker://$HOSTPORT/team/sk:latest" "oci:$WORK/pulled:latest" &&
        [ "$(digest_of "$(layout_manifest "$WORK/pulled")")" = "$(digest_of "$(layout_manifest "$WORK/layout")")" ]; then
        ok "PostgreSQL: skopeo pulls the image with the manifest digest it pushed"
    else
        fail "PostgreSQL: skopeo pulls the image with the manifest digest it pushed" "$(tail -c 400 "$WORK/skopeo.out")"
    fi
fi
req GET "$UP" "${OWN[@]}"
expect_status 204 "PostgreSQL: the upload in progress is there"
expect_header Range 0-99999 "PostgreSQL: it holds the 100000 bytes sent to the SQLite server"
req PATCH "$UP" "${OWN[@]}" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 100000-199999' \
    --data-binary "@$WORK/half.2"
expect_status 202 "PostgreSQL: the upload goes on"
UP=$(loc_path "$(hdr Location)")
req PUT "$(add_query "$UP" "digest=$HALF_D")" "${OWN[@]}" -H 'Content-Length: 0'
expect_status 201 "PostgreSQL: the upload completes with the digest of both halves"
berth_stop

# ---- PostgreSQL -> a fresh SQLite folder
BACK=$WORK/back
if migrate --from-data "$PGDATA" --from-meta "$PGDSN" --to-data "$BACK" --no-progress; then
    ok "berth migrate PostgreSQL -> SQLite exits 0"
else
    fail "berth migrate PostgreSQL -> SQLite exits 0" "$(tail -n 5 "$WORK/migrate.err")"
fi
check "no progress lines with --no-progress" test ! -s "$WORK/migrate.err"
DATA=$BACK
BERTH_AUTH=1 berth_start
snapshot "$WORK/back.txt"
same_as "$WORK/before.txt" "$WORK/back.txt" "back on SQLite: every image pulls back with its digests, tags and referrers"
logins_work "back on SQLite"
req GET "/v2/team/app/blobs/$HALF_D" "${OWN[@]}"
expect_body_digest "$HALF_D" "back on SQLite: the blob whose upload finished on PostgreSQL"
berth_stop

# ---- SQLite -> PostgreSQL + S3, and back to a fresh folder
if [ -n "${BERTH_TEST_S3_ENDPOINT:-}" ]; then
    S3DSN=$(new_db s3)
    S3DATA=$WORK/s3
    # redirect=0: the snapshot reads blob bytes from berth; the 307 is checked on its own below
    S3STORE="s3://mig-$(rand_hex 6)?endpoint=$BERTH_TEST_S3_ENDPOINT&region=$BERTH_TEST_S3_REGION"
    if migrate --from-data "$SRC" --to-data "$S3DATA" --to-meta "$S3DSN" --to-store "$S3STORE&redirect=0" \
        --no-progress; then
        ok "berth migrate SQLite -> PostgreSQL + S3 exits 0"
    else
        fail "berth migrate SQLite -> PostgreSQL + S3 exits 0" "$(tail -n 5 "$WORK/migrate.err")"
    fi
    check "every blob went to the bucket, verified" grep -q '^migrate: verified: every table' "$WORK/migrate.out"
    DATA=$S3DATA
    BERTH_AUTH=1 berth_start --meta "$S3DSN" --store "$S3STORE&redirect=0"
    snapshot "$WORK/s3.txt"
    same_as "$WORK/before.txt" "$WORK/s3.txt" "PostgreSQL + S3: every image pulls back with its digests, tags and referrers"
    logins_work "PostgreSQL + S3"
    req GET "$UP" "${OWN[@]}"
    expect_header Range 0-99999 "PostgreSQL + S3: the upload in progress holds its 100000 bytes"
    req PATCH "$UP" "${OWN[@]}" -H 'Content-Type: application/octet-stream' -H 'Content-Range: 100000-199999' \
        --data-binary "@$WORK/half.2"
    expect_status 202 "PostgreSQL + S3: the upload goes on into the bucket"
    req PUT "$(add_query "$(loc_path "$(hdr Location)")" "digest=$HALF_D")" "${OWN[@]}" -H 'Content-Length: 0'
    expect_status 201 "PostgreSQL + S3: it completes with the digest of both halves"
    berth_stop
    BERTH_AUTH=1 berth_start --meta "$S3DSN" --store "$S3STORE"
    req GET "/v2/team/app/manifests/v1" "${OWN[@]}" -H "$ACCEPT_MANIFESTS"
    x=$(jq -r '.layers[0].digest' "$BODY")
    req GET "/v2/team/app/blobs/$x" "${OWN[@]}"
    expect_status 307 "PostgreSQL + S3: a blob GET redirects to the bucket"
    HDR_CHECK=0
    req GET "/v2/team/app/blobs/$x" "${OWN[@]}" -L
    HDR_CHECK=1
    expect_body_digest "$x" "PostgreSQL + S3: the bucket gives the migrated bytes"
    berth_stop
    S3BACK=$WORK/s3back
    if migrate --from-data "$S3DATA" --from-meta "$S3DSN" --from-store "$S3STORE" --to-data "$S3BACK" \
        --no-progress; then
        ok "berth migrate PostgreSQL + S3 -> SQLite exits 0"
    else
        fail "berth migrate PostgreSQL + S3 -> SQLite exits 0" "$(tail -n 5 "$WORK/migrate.err")"
    fi
    DATA=$S3BACK
    BERTH_AUTH=1 berth_start
    snapshot "$WORK/s3back.txt"
    same_as "$WORK/before.txt" "$WORK/s3back.txt" "back from S3: every image pulls back with its digests, tags and referrers"
    berth_stop
else
    skip "no S3 for the tests (BERTH_TEST_S3_ENDPOINT unset): the PostgreSQL + S3 round trip is not run"
fi

# ---- a target that is not empty is refused, and left as it is
OTHER=$(new_db other)
DATA=$WORK/other
BERTH_AUTH=1 berth_start --meta "$OTHER"
berth_stop
regs=$(sql "$OTHER" 'SELECT count(*) FROM registries')
if migrate --from-data "$SRC" --to-data "$WORK/other" --to-meta "$OTHER"; then
    fail "a PostgreSQL database a server already started on is refused" "exit 0"
else
    expect_eq "a PostgreSQL database a server already started on is refused (exit 1)" 1 "$?"
fi
check "the refusal names what the target holds" grep -q 'is not empty (.*registries 1.*users 1' "$WORK/migrate.err"
check "and says how to start from an empty database" grep -q '^hint: .*createdb' "$WORK/migrate.err"
expect_eq "the refused target keeps its rows" "$regs" "$(sql "$OTHER" 'SELECT count(*) FROM registries')"
check "no blob was copied into the refused target" test -z "$(find "$WORK/other/blobs" -type f 2>/dev/null)"
if migrate --from-data "$SRC" --to-data "$BACK"; then
    fail "a SQLite target holding other rows is refused" "exit 0"
else
    ok "a SQLite target holding other rows is refused"
fi
if migrate --from-data "$SRC" --to-data "$PGDATA" --to-meta "$PGDSN" --dry-run; then
    fail "a dry run into a changed target says it would be refused" "exit 0"
else
    check "a dry run into a changed target says it would be refused" grep -q 'not empty' "$WORK/migrate.err"
fi

# ---- the metadata only: the same data folder on both sides
SAMEDSN=$(new_db same)
if migrate --from-data "$SRC" --to-data "$SRC" --to-meta "$SAMEDSN"; then
    check "metadata only: every blob is found in place, the key goes into the table" \
        bash -c "grep -q 'blobs: [0-9]* in the source: 0 copied' '$WORK/migrate.out' && grep -q 'signing keys: 1 copied' '$WORK/migrate.out'"
    check "metadata only: the tables are copied and verified" grep -q '^migrate: verified' "$WORK/migrate.out"
else
    fail "berth migrate of the metadata only (the same --from-data and --to-data) exits 0" "$(tail -n 3 "$WORK/migrate.err")"
fi

# ---- a larger migration killed half-way, then run again
BIG=$WORK/big
DATA=$BIG
BERTH_AUTH=1 berth_start
BPW=$(cat "$BIG/initial-owner-password")
printf 'user = "owner:%s"\n' "$BPW" >"$WORK/owner/.curlrc"
OWN=(-u "owner:$BPW")
for i in 1 2 3 4; do
    files=()
    for j in $(seq 12); do
        rand_file "$WORK/big-$i-$j" $((4 * 1024 * 1024))
        files+=("$WORK/big-$i-$j")
    done
    as_owner push_image "big/img$i" latest "${files[@]}" || bail "push big/img$i (12 layers of 4 MiB)"
done
ok "pushed 4 images of 12 layers of 4 MiB"
snapshot "$WORK/big-before.txt"
berth_stop
rm -f "$WORK"/big-*-*
NBIG=$(find "$BIG/blobs" -type f | wc -l)
BIGDSN=$(new_db big)
BIGT=$WORK/bigt
"$BERTH_BIN" migrate --from-data "$BIG" --to-data "$BIGT" --to-meta "$BIGDSN" --no-progress >"$WORK/migrate.out" 2>&1 &
mpid=$!
EXTRA_PIDS+=("$mpid")
for _ in $(seq 3000); do
    [ "$(find "$BIGT/blobs" -type f 2>/dev/null | wc -l)" -ge 6 ] && break
    kill -0 "$mpid" 2>/dev/null || break
    sleep 0.01
done
if kill -0 "$mpid" 2>/dev/null; then
    kill -9 "$mpid"
    wait "$mpid" 2>/dev/null
    copied=$(find "$BIGT/blobs" -type f | wc -l)
    ok "berth migrate killed with -9 half-way ($copied of $NBIG blobs in the target)"
else
    wait "$mpid" 2>/dev/null
    fail "berth migrate killed with -9 half-way" "it had finished: $(tail -n 2 "$WORK/migrate.out")"
    copied=-1
fi
left=$(find "$BIGT/uploads" -type f 2>/dev/null | wc -l)
echo "# after kill -9: $left upload file(s) of the copy in progress left in the target"
expect_eq "the killed run left no metadata: it comes after every blob" 0 "$(sql "$BIGDSN" 'SELECT count(*) FROM repositories')"
if migrate --from-data "$BIG" --to-data "$BIGT" --to-meta "$BIGDSN"; then
    ok "the same berth migrate run again exits 0"
else
    fail "the same berth migrate run again exits 0" "$(tail -n 5 "$WORK/migrate.err")"
fi
check "the second run skips the blobs the first one copied" \
    grep -q "blobs: $NBIG in the source: $((NBIG - copied)) copied ([^)]*), $copied already in the target" "$WORK/migrate.out"
check "it removes what the killed copy left in the target's uploads" \
    grep -q "leftovers of an interrupted run removed: $left\$" "$WORK/migrate.out"
expect_eq "no upload is left in the target" "" "$(find "$BIGT/uploads" -type f 2>/dev/null)"
if migrate --from-data "$BIG" --to-data "$BIGT" --to-meta "$BIGDSN"; then
    check "a third run finds it all done" grep -q 'already in the target (an earlier run copied them)' "$WORK/migrate.out"
else
    fail "a third run finds it all done" "$(tail -n 5 "$WORK/migrate.err")"
fi
DATA=$BIGT
BERTH_AUTH=1 berth_start --meta "$BIGDSN"
snapshot "$WORK/big-after.txt"
same_as "$WORK/big-before.txt" "$WORK/big-after.txt" "after the resumed migration every image pulls back intact"
berth_stop
if grep -Eq 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$WORK/migrate-all.err"; then
    fail "no sanitizer reports from berth migrate" "$(grep -Em 3 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$WORK/migrate-all.err")"
fi

finish
