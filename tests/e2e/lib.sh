# Shared helpers for the end-to-end tests: start and stop `berth serve` on a
# loopback port in a temp dir, issue requests with curl, and report results as
# "ok - ", "not ok - " and "skip - " lines that run.sh counts.
#
# Sourced by every tests/e2e/NNNN-*.sh; each test ends with `finish`.

set -u

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$E2E_DIR/../.." && pwd)
BERTH_BIN=${BERTH_BIN:-$REPO/build/berth}
TEST_NAME=$(basename "$0" .sh)

# One temp dir per test; servers, data and scratch files live below it.
WORK=""
DATA=""
URL=""
HOSTPORT=""
PORT=""
BERTH_PID=""
BERTH_PID_B=""
PROXY_PID=""
SRV_LOG=""
SERVER_PIDS=()
EXTRA_PIDS=()
CLEAN_DIRS=()
# commands cleanup runs first, last added first (a test's undo steps: a package to purge, a container)
CLEANUP_HOOKS=()

HDRS=""
BODY=""
STATUS=""
CURL_RC=0
LAST_REQ=""

N_OK=0
N_FAIL=0
N_RESP=0
HDR_CHECK=1

MT_OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_OCI_INDEX=application/vnd.oci.image.index.v1+json
MT_OCI_CONFIG=application/vnd.oci.image.config.v1+json
MT_OCI_LAYER=application/vnd.oci.image.layer.v1.tar
MT_OCI_LAYER_GZ=application/vnd.oci.image.layer.v1.tar+gzip
MT_OCI_EMPTY=application/vnd.oci.empty.v1+json
MT_DOCKER_MANIFEST=application/vnd.docker.distribution.manifest.v2+json
MT_DOCKER_LIST=application/vnd.docker.distribution.manifest.list.v2+json
MT_DOCKER_CONFIG=application/vnd.docker.container.image.v1+json
MT_DOCKER_LAYER=application/vnd.docker.image.rootfs.diff.tar.gzip
ACCEPT_MANIFESTS="Accept: $MT_OCI_MANIFEST, $MT_OCI_INDEX, $MT_DOCKER_MANIFEST, $MT_DOCKER_LIST"
EMPTY_DIGEST=sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a

work_init() {
    [ -n "$WORK" ] && return 0
    WORK=$(mktemp -d "${TMPDIR:-/tmp}/berth-e2e-$TEST_NAME.XXXXXX")
    DATA=$WORK/data
    SRV_LOG=$WORK/server.log
    HDRS=$WORK/resp.headers
    BODY=$WORK/resp.body
    : >"$HDRS"
    : >"$BODY"
}

cleanup() {
    local p i
    for ((i = ${#CLEANUP_HOOKS[@]} - 1; i >= 0; i--)); do
        eval "${CLEANUP_HOOKS[i]}"
    done
    for p in "${EXTRA_PIDS[@]}"; do
        kill -9 "$p" 2>/dev/null
    done
    for p in "${SERVER_PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null
            for _ in $(seq 50); do
                kill -0 "$p" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$p" 2>/dev/null
        fi
    done
    for p in "${CLEAN_DIRS[@]}"; do
        rm -rf "$p"
    done
    if [ -n "$WORK" ] && [ -z "${BERTH_E2E_KEEP:-}" ]; then
        rm -rf "$WORK"
    elif [ -n "$WORK" ]; then
        echo "# kept $WORK"
    fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# ---------------------------------------------------------------- reporting

ok() {
    N_OK=$((N_OK + 1))
    echo "ok - $1"
}

# fail DESC [DETAILS...]: each detail is printed on its own "#" line.
fail() {
    local desc=$1 line
    shift
    N_FAIL=$((N_FAIL + 1))
    echo "not ok - $desc"
    for line in "$@"; do
        printf '#   %s\n' "$(echo "$line" | cut -c1-600)"
    done
    if [ -n "$LAST_REQ" ]; then
        printf '#   last request: %s -> %s\n' "$(echo "$LAST_REQ" | cut -c1-300)" "$STATUS"
        if [ -s "$BODY" ]; then
            printf '#   last body: %s\n' "$(head -c 400 "$BODY" | LC_ALL=C tr -c '[:print:]' ' ')"
        fi
    fi
    if [ -n "$SRV_LOG" ] && [ -s "$SRV_LOG" ]; then
        echo "#   server.log (tail):"
        tail -n 6 "$SRV_LOG" | cut -c1-300 | sed 's/^/#     /'
    fi
    return 1
}

skip() {
    echo "skip - $TEST_NAME: $1"
}

# bail DESC [DETAILS...]: a failure after which the test cannot go on.
bail() {
    fail "$@"
    exit 0
}

# check DESC COMMAND...: ok when COMMAND succeeds.
check() {
    local desc=$1
    shift
    if "$@" 2>/dev/null; then
        ok "$desc"
    else
        fail "$desc" "condition failed: $*"
    fi
}

expect_eq() {
    local desc=$1 want=$2 got=$3
    if [ "$want" = "$got" ]; then
        ok "$desc"
    else
        fail "$desc" "expected: $want" "got:      $got"
    fi
}

expect_match() {
    local desc=$1 re=$2 got=$3
    if [[ $got =~ $re ]]; then
        ok "$desc"
    else
        fail "$desc" "expected to match: $re" "got:      $got"
    fi
}

finish() {
    local p n
    if [ "$N_RESP" -gt 0 ]; then
        n=0
        [ -s "$WORK/response-issues" ] && n=$(wc -l <"$WORK/response-issues")
        if [ "$n" = 0 ]; then
            ok "all $N_RESP responses carry Docker-Distribution-API-Version and X-Request-Id; errors are OCI JSON"
        else
            LAST_REQ=""
            local IFS=$'\n'
            # shellcheck disable=SC2046
            fail "all $N_RESP responses carry Docker-Distribution-API-Version and X-Request-Id; errors are OCI JSON" \
                "$n responses did not, for example:" $(head -n 5 "$WORK/response-issues")
        fi
    fi
    for p in "${SERVER_PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            BERTH_PID=$p
            berth_stop
        fi
    done
    if [ -n "$SRV_LOG" ] && [ -s "$SRV_LOG" ]; then
        if grep -Eq 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:' "$SRV_LOG"; then
            fail "no sanitizer reports in server.log" \
                "$(grep -Em 3 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$SRV_LOG")"
        fi
    fi
    echo "# $TEST_NAME: $N_OK ok, $N_FAIL not ok"
    exit 0
}

# ---------------------------------------------------------------- server

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# port_was_taken: the last server start failed because its port was in use.
port_was_taken() {
    tail -n 3 "$SRV_LOG" 2>/dev/null | grep -q 'the address is already in use'
}

# berth_start [extra serve flags]: start a server on a free port with data in
# $DATA; reuses the test's temp dir and data dir on a second call (restart).
berth_start() {
    work_init
    if [ ! -x "$BERTH_BIN" ]; then
        skip "berth binary not found at $BERTH_BIN"
        exit 0
    fi
    PORT=$(free_port)
    HOSTPORT=127.0.0.1:$PORT
    URL=http://$HOSTPORT
    mkdir -p "$DATA"
    echo "=== berth serve --listen $HOSTPORT --data $DATA ${BERTH_AUTH:+(auth)} $*" >>"$SRV_LOG"
    # The OCI API tests run an open registry; the login tests set BERTH_AUTH=1.
    local auth=(--auth false)
    [ "${BERTH_AUTH:-0}" = 1 ] && auth=()
    # BERTH_E2E_PG (a PostgreSQL socket folder): metadata in a database of this test's own
    if [ -n "${BERTH_E2E_PG:-}" ] && [ -z "${E2E_META:-}" ]; then
        E2E_META_DB=t_$(basename "$WORK" | tr -c 'a-zA-Z0-9_\n' '_')
        psql -h "$BERTH_E2E_PG" -U postgres -qc "CREATE DATABASE \"$E2E_META_DB\"" postgres >/dev/null 2>&1 ||
            bail "create database $E2E_META_DB"
        E2E_META="postgresql://postgres@/$E2E_META_DB?host=$BERTH_E2E_PG"
        export BERTH_META=$E2E_META # every berth command of the test (gc, doctor) reads it
    fi
    if [ -n "${BERTH_E2E_PAIR:-}" ]; then
        pair_start "${auth[@]}" "$@"
        return
    fi
    "$BERTH_BIN" serve --listen "$HOSTPORT" --data "$DATA" "${auth[@]}" "$@" >>"$SRV_LOG" 2>&1 &
    BERTH_PID=$!
    SERVER_PIDS+=("$BERTH_PID")
    export URL HOSTPORT DATA BERTH_PID
    local code i
    for i in $(seq 100); do
        if ! kill -0 "$BERTH_PID" 2>/dev/null; then
            # free_port's port was taken before the server bound it: try another, a few times
            if port_was_taken && [ "${BERTH_START_TRIES:-0}" -lt 3 ]; then
                BERTH_START_TRIES=$((${BERTH_START_TRIES:-0} + 1)) berth_start "$@"
                return
            fi
            bail "berth serve starts" "the server exited during start-up"
        fi
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$URL/v2/")
        if [ "$code" != "000" ]; then
            return 0
        fi
        sleep 0.1
    done
    bail "berth serve starts" "no answer on $URL/v2/ after 10 s"
}

# wait_answer URL PID WHAT: waits until URL/v2/ answers (10 s at most).
wait_answer() {
    local url=$1 pid=$2 what=$3 code i
    for i in $(seq 100); do
        kill -0 "$pid" 2>/dev/null || bail "$what starts" "it exited during start-up"
        code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$url/v2/")
        [ "$code" != "000" ] && return 0
        sleep 0.1
    done
    bail "$what starts" "no answer on $url/v2/ after 10 s"
}

# BERTH_E2E_PAIR: two servers on one metadata database (BERTH_E2E_PG) and one
# blob store, behind nginx on $PORT sending each request to the next server in
# turn, so that every test's requests alternate between the servers. Without
# an S3 bucket the two share the data folder; with one (BERTH_E2E_S3_ENV, the
# env file of scripts/rgw.sh) each has a folder of its own.
pair_start() {
    local pa pb data_b conf store=()
    [ -n "${BERTH_E2E_PG:-}" ] || bail "pair mode" "BERTH_E2E_PAIR needs BERTH_E2E_PG"
    pa=$(free_port)
    pb=$(free_port)
    data_b=$DATA
    if [ -n "${BERTH_E2E_S3_ENV:-}" ]; then
        # shellcheck disable=SC1090
        . "$BERTH_E2E_S3_ENV"
        export AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY
        E2E_BUCKET=${E2E_BUCKET:-e2e-$(rand_hex 12)}
        # redirect=0: blob GETs stream through berth, so the OCI tests see its answers (Range and all);
        # 0120 and 0601 test the 307 to the gateway
        export BERTH_STORE="s3://$E2E_BUCKET?endpoint=$BERTH_TEST_S3_ENDPOINT&region=$BERTH_TEST_S3_REGION&redirect=0"
        store=(--store "$BERTH_STORE")
        data_b=$WORK/data-b
        mkdir -p "$data_b"
    fi
    "$BERTH_BIN" serve --listen "127.0.0.1:$pa" --data "$DATA" "${store[@]}" "$@" >>"$SRV_LOG" 2>&1 &
    BERTH_PID=$!
    SERVER_PIDS+=("$BERTH_PID")
    wait_answer "http://127.0.0.1:$pa" "$BERTH_PID" "berth serve (first of the pair)"
    "$BERTH_BIN" serve --listen "127.0.0.1:$pb" --data "$data_b" "${store[@]}" "$@" >>"$SRV_LOG" 2>&1 &
    BERTH_PID_B=$!
    SERVER_PIDS+=("$BERTH_PID_B")
    wait_answer "http://127.0.0.1:$pb" "$BERTH_PID_B" "berth serve (second of the pair)"
    mkdir -p "$WORK/nginx"
    conf=$WORK/nginx/nginx.conf
    sh "$REPO/scripts/nginx-pair.sh" "$WORK/nginx" "$PORT" "127.0.0.1:$pa" "127.0.0.1:$pb" \
        "$WORK/nginx/access.log" >"$conf" || bail "write the nginx configuration"
    nginx -c "$conf" -p "$WORK/nginx" -g 'daemon off;' >>"$SRV_LOG" 2>&1 &
    PROXY_PID=$!
    SERVER_PIDS+=("$PROXY_PID")
    wait_answer "$URL" "$PROXY_PID" "nginx in front of the pair"
    export URL HOSTPORT DATA BERTH_PID BERTH_PID_B
}

# store_is_fs: the servers keep blobs in the data folder (no BERTH_STORE bucket).
store_is_fs() { [ -z "${BERTH_STORE:-}" ]; }

# store_drop_upload UUID: removes an upload's bytes behind the servers' back, as a crash or an
# operator's rm would: its file in the data folder, or its objects in the bucket (E2E_BUCKET).
store_drop_upload() {
    local k
    if store_is_fs; then
        rm -f "$DATA/uploads/$1"
        return
    fi
    for k in info tail mp; do
        curl -s -o /dev/null -X DELETE --aws-sigv4 "aws:amz:$BERTH_TEST_S3_REGION:s3" \
            --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
            "$BERTH_TEST_S3_ENDPOINT/$E2E_BUCKET/uploads/$1/$k"
    done
}

# pair_check_spread: both servers of the pair answered requests of the test.
pair_check_spread() {
    local n
    n=$(awk '$1 ~ /^127/ {print $1}' "$WORK/nginx/access.log" 2>/dev/null | sort -u | wc -l)
    if [ "$n" -ge 2 ]; then
        ok "requests went to both servers of the pair ($(wc -l <"$WORK/nginx/access.log") requests)"
    else
        fail "requests went to both servers of the pair" "$n server(s) answered"
    fi
}

# berth_stop: SIGTERM the current server and wait for it (20 s at most: the
# server itself gives in-flight requests up to --shutdown-timeout, 10 s by
# default, then closes); it must exit 0 (a sanitizer build exits non-zero on
# a leak).
berth_stop() {
    local pid=$BERTH_PID i rc
    [ -n "$pid" ] || return 0
    if [ -n "${BERTH_PID_B:-}" ]; then
        # the pair: the second server and the proxy go first, the first server as usual below
        kill -TERM "$BERTH_PID_B" "$PROXY_PID" 2>/dev/null
        wait "$BERTH_PID_B" 2>/dev/null
        rc=$?
        [ "$rc" = 0 ] || fail "the second berth serve of the pair exits 0 after SIGTERM" "exit status $rc"
        wait "$PROXY_PID" 2>/dev/null
        BERTH_PID_B=""
        PROXY_PID=""
        pair_check_spread
    fi
    kill -TERM "$pid" 2>/dev/null
    for i in $(seq 200); do
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid" 2>/dev/null
            rc=$?
            BERTH_PID=""
            if [ "$rc" != 0 ]; then
                fail "berth serve exits 0 after SIGTERM" "exit status $rc"
            fi
            return 0
        fi
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    BERTH_PID=""
    fail "server exits within 20 s of SIGTERM"
}

berth_kill9() {
    [ -n "$BERTH_PID" ] || return 0
    if [ -n "${BERTH_PID_B:-}" ]; then
        kill -9 "$BERTH_PID_B" 2>/dev/null
        kill -TERM "$PROXY_PID" 2>/dev/null
        wait "$BERTH_PID_B" "$PROXY_PID" 2>/dev/null
        BERTH_PID_B=""
        PROXY_PID=""
    fi
    kill -9 "$BERTH_PID" 2>/dev/null
    wait "$BERTH_PID" 2>/dev/null
    BERTH_PID=""
}

# wait_lines FILE PATTERN N: waits up to 5 s for N lines matching PATTERN in FILE (a stream being
# written); prints how many there are.
wait_lines() {
    local got=0 i
    for i in $(seq 50); do
        got=$(grep -c -- "$2" "$1" 2>/dev/null)
        [ "${got:-0}" -ge "$3" ] && break
        sleep 0.1
    done
    echo "${got:-0}"
}

server_alive() {
    [ -n "$BERTH_PID" ] && kill -0 "$BERTH_PID" 2>/dev/null || return 1
    [ "$(curl -s -o /dev/null -m 10 -w '%{http_code}' "$URL/v2/")" = 200 ]
}

expect_alive() {
    if server_alive; then
        ok "${1:-server still answers GET /v2/}"
    else
        bail "${1:-server still answers GET /v2/}" "server process gone or /v2/ not 200"
    fi
}

# ---------------------------------------------------------------- requests

# req METHOD PATH-OR-URL [curl args...]: sets STATUS, $HDRS, $BODY.
req() {
    local method=$1 target=$2
    shift 2
    case $target in
        http://* | https://*) ;;
        *) target=$URL$target ;;
    esac
    local m=(-X "$method")
    [ "$method" = HEAD ] && m=(-I)
    : >"$HDRS"
    : >"$BODY"
    LAST_REQ="$method $target"
    STATUS=$(curl -sS --path-as-is -m "${REQ_TIMEOUT:-120}" -H 'Expect:' "${m[@]}" \
        -D "$HDRS" -o "$BODY" -w '%{http_code}' "$@" "$target" 2>"$WORK/curl.err")
    CURL_RC=$?
    [ "$method" = HEAD ] && : >"$BODY"
    [ -n "$STATUS" ] || STATUS=000
    note_response "$method"
    return 0
}

# note_response METHOD: remember responses that lack the headers every
# response carries, or errors without an OCI JSON body; finish() reports them.
# Set HDR_CHECK=0 around requests that the HTTP layer may refuse by itself.
note_response() {
    local why="" ct
    [ "$STATUS" != 000 ] && [ "$HDR_CHECK" = 1 ] || return 0
    N_RESP=$((N_RESP + 1))
    has_hdr Docker-Distribution-API-Version || why="$why no Docker-Distribution-API-Version;"
    has_hdr X-Request-Id || why="$why no X-Request-Id;"
    if [ "$STATUS" -ge 400 ] && [ "$1" != HEAD ]; then
        ct=$(hdr Content-Type) || ct=""
        [[ $ct == application/json* ]] || why="$why error with Content-Type '$ct';"
        jq -e '.errors[0].code | type == "string"' "$BODY" >/dev/null 2>&1 || why="$why error without an OCI error body;"
    fi
    if [ -n "$why" ]; then
        echo "$(echo "$LAST_REQ" | cut -c1-200) -> $STATUS:$why" >>"$WORK/response-issues"
    fi
    return 0
}

# hdr NAME: value of the last NAME header of the last response.
hdr() {
    awk -v n="$1" '
        BEGIN { n = tolower(n); found = 0 }
        { sub(/\r$/, "") }
        /^HTTP\// { found = 0; val = "" }
        {
            i = index($0, ":")
            if (i > 0 && tolower(substr($0, 1, i - 1)) == n) {
                v = substr($0, i + 1)
                sub(/^[ \t]+/, "", v)
                sub(/[ \t]+$/, "", v)
                val = v
                found = 1
            }
        }
        END { if (found) print val; else exit 1 }' "$HDRS"
}

has_hdr() {
    hdr "$1" >/dev/null
}

# err_code: the first OCI error code in the last body.
err_code() {
    jq -r '.errors[0].code // empty' "$BODY" 2>/dev/null
}

# expect_status WANT DESC: WANT is a status or an alternation like 400|416.
expect_status() {
    local want=$1 desc=$2
    if [[ $STATUS =~ ^($want)$ ]]; then
        ok "$desc"
    else
        fail "$desc" "expected status: $want" "got status:      $STATUS (curl rc $CURL_RC)"
    fi
}

expect_header() {
    local name=$1 want=$2 desc=$3 got
    got=$(hdr "$name") || got="<absent>"
    expect_eq "$desc" "$want" "$got"
}

expect_header_re() {
    local name=$1 re=$2 desc=$3 got
    if got=$(hdr "$name"); then
        expect_match "$desc" "$re" "$got"
    else
        fail "$desc" "expected a $name header matching $re" "got no $name header"
    fi
}

expect_no_header() {
    local name=$1 desc=$2 got
    if got=$(hdr "$name"); then
        fail "$desc" "expected no $name header" "got: $got"
    else
        ok "$desc"
    fi
}

# expect_next_link PATH N LAST DESC: the Link header points at PATH with
# n=N and last=LAST (after URL decoding), rel="next".
expect_next_link() {
    local path=$1 n=$2 last=$3 desc=$4 got
    if ! got=$(hdr Link); then
        fail "$desc" "expected Link: <$path?n=$n&last=$last>; rel=\"next\"" "got no Link header"
        return 1
    fi
    if python3 - "$got" "$path" "$n" "$last" <<'EOF'
import re, sys
from urllib.parse import urlsplit, parse_qs
link, path, n, last = sys.argv[1:5]
m = re.fullmatch(r'<([^>]+)>\s*;\s*rel="?next"?', link.strip())
if not m:
    sys.exit(1)
u = urlsplit(m.group(1))
q = parse_qs(u.query, keep_blank_values=True)
ok = u.path == path and q.get("n") == [n] and q.get("last") == [last]
sys.exit(0 if ok else 1)
EOF
    then
        ok "$desc"
    else
        fail "$desc" "expected Link: <$path?n=$n&last=$last>; rel=\"next\"" "got: $got"
    fi
}

# expect_code CODE DESC: CODE may be an alternation like A|B.
expect_code() {
    local want=$1 desc=$2 got
    got=$(err_code)
    if [[ $got =~ ^($want)$ ]]; then
        ok "$desc"
    else
        fail "$desc" "expected OCI error code: $want" "got: ${got:-<none>}"
    fi
}

# expect_error STATUS CODE DESC: one check of status, JSON content type and the
# error code (status only for HEAD, which has no body).
expect_error() {
    local want=$1 code=$2 desc=$3 got ct
    if ! [[ $STATUS =~ ^($want)$ ]]; then
        fail "$desc" "expected status $want with code $code" "got status $STATUS (curl rc $CURL_RC)"
        return 1
    fi
    case $LAST_REQ in HEAD\ *)
        ok "$desc"
        return 0
        ;;
    esac
    ct=$(hdr Content-Type) || ct=""
    got=$(err_code)
    if [[ $got =~ ^($code)$ ]] && [[ $ct == application/json* ]]; then
        ok "$desc"
    else
        fail "$desc" "expected code $code, application/json" "got code ${got:-<none>}, content type ${ct:-<none>}"
    fi
}

# expect_body_digest DIGEST DESC: the last body hashes to DIGEST.
expect_body_digest() {
    local want=$1 desc=$2 got
    got=$(digest_of "$BODY" "${want%%:*}")
    expect_eq "$desc" "$want" "$got"
}

# abs_url LOCATION: a Location header value made absolute.
abs_url() {
    case $1 in
        http://* | https://*) echo "$1" ;;
        *) echo "$URL$1" ;;
    esac
}

# loc_path LOCATION: a Location header value without scheme and authority.
loc_path() {
    echo "$1" | sed -E 's#^https?://[^/]+##'
}

# add_query URL KEY=VALUE
add_query() {
    case $1 in
        *\?*) echo "$1&$2" ;;
        *) echo "$1?$2" ;;
    esac
}

# ---------------------------------------------------------------- content

# rand_file PATH SIZE
rand_file() {
    head -c "$2" /dev/urandom >"$1"
}

# digest_of FILE [sha256|sha512]
digest_of() {
    local alg=${2:-sha256}
    echo "$alg:$("${alg}sum" "$1" | cut -d' ' -f1)"
}

file_size() {
    stat -c %s "$1"
}

rand_hex() {
    head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'
}

# desc_json MEDIATYPE FILE: a descriptor for FILE.
desc_json() {
    printf '{"mediaType":"%s","digest":"%s","size":%s}' "$1" "$(digest_of "$2")" "$(file_size "$2")"
}

# upload_start REPO [QUERY]: POST a new upload; UPLOAD_URL is the absolute
# Location. Returns non-zero unless 202.
upload_start() {
    local q=${2:-}
    req POST "/v2/$1/blobs/uploads/$q"
    UPLOAD_URL=""
    [ "$STATUS" = 202 ] || return 1
    UPLOAD_URL=$(abs_url "$(hdr Location)") || return 1
}

# push_blob REPO FILE: POST then PUT ?digest= with the whole body.
# Sets BLOB_DIGEST. Returns non-zero unless 201.
push_blob() {
    BLOB_DIGEST=$(digest_of "$2")
    upload_start "$1" || return 1
    req PUT "$(add_query "$UPLOAD_URL" "digest=$BLOB_DIGEST")" \
        -H 'Content-Type: application/octet-stream' --data-binary "@$2"
    [ "$STATUS" = 201 ]
}

# push_manifest REPO REF FILE MEDIATYPE: PUT a manifest; returns non-zero
# unless 201. Sets MANIFEST_DIGEST to the digest of FILE.
push_manifest() {
    MANIFEST_DIGEST=$(digest_of "$3")
    req PUT "/v2/$1/manifests/$2" -H "Content-Type: $4" --data-binary "@$3"
    [ "$STATUS" = 201 ]
}

# push_empty_config REPO: push the empty descriptor blob "{}".
push_empty_config() {
    printf '{}' >"$WORK/empty.json"
    push_blob "$1" "$WORK/empty.json"
}

# push_image REPO REF [LAYER FILES...]: push a config, the layers (two random
# ones when none are given) and an OCI image manifest. Sets IMG_DIGEST,
# IMG_MANIFEST (file), IMG_CONFIG (digest) and IMG_LAYERS (digests).
push_image() {
    local repo=$1 ref=$2 f cfg layers="" sep=""
    shift 2
    local files=("$@")
    local id
    id=$(rand_hex 8)
    if [ ${#files[@]} -eq 0 ]; then
        rand_file "$WORK/layer-$id-1" 2048
        rand_file "$WORK/layer-$id-2" 3000
        files=("$WORK/layer-$id-1" "$WORK/layer-$id-2")
    fi
    cfg=$WORK/config-$id.json
    printf '{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"comment":"%s"}' "$id" >"$cfg"
    push_blob "$repo" "$cfg" || return 1
    IMG_CONFIG=$BLOB_DIGEST
    IMG_LAYERS=()
    for f in "${files[@]}"; do
        push_blob "$repo" "$f" || return 1
        IMG_LAYERS+=("$BLOB_DIGEST")
        layers="$layers$sep$(desc_json "$MT_OCI_LAYER" "$f")"
        sep=,
    done
    IMG_MANIFEST=$WORK/manifest-$id.json
    printf '{"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[%s]}' \
        "$MT_OCI_MANIFEST" "$(desc_json "$MT_OCI_CONFIG" "$cfg")" "$layers" >"$IMG_MANIFEST"
    push_manifest "$repo" "$ref" "$IMG_MANIFEST" "$MT_OCI_MANIFEST" || return 1
    IMG_DIGEST=$MANIFEST_DIGEST
}

# ---------------------------------------------------------------- skopeo

# HAVE_SKOPEO is 1 when skopeo is installed.
HAVE_SKOPEO=0
command -v skopeo >/dev/null 2>&1 && HAVE_SKOPEO=1

# sk ARGS...: skopeo with a policy that accepts any image, 120 s at most; its output in $WORK/skopeo.out.
sk() {
    work_init
    [ -s "$WORK/policy.json" ] || printf '{"default":[{"type":"insecureAcceptAnything"}]}' >"$WORK/policy.json"
    timeout 120 skopeo --policy "$WORK/policy.json" "$@" >"$WORK/skopeo.out" 2>&1
}

# raw_send HOSTPORT FILE [MODE]: send FILE's bytes on a fresh connection.
# MODE "abort" closes right after sending; "read" (default) half-closes and
# prints the whole answer.
raw_send() {
    python3 - "$1" "$2" "${3:-read}" <<'EOF'
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
data = open(sys.argv[2], "rb").read()
s = socket.create_connection((host, int(port)), timeout=20)
try:
    s.sendall(data)
except OSError:
    pass
if sys.argv[3] == "abort":
    s.close()
    sys.exit(0)
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except OSError:
    pass
sys.stdout.buffer.write(out)
EOF
}

# make_oci_layout DIR NLAYERS [BIG]: write an OCI image layout with NLAYERS gzip'd
# tar layers of random files, tagged "latest"; with BIG, the first layer also holds a random
# file of BIG bytes (random bytes do not compress: the layer is that big).
make_oci_layout() {
    python3 - "$1" "$2" "${3:-0}" <<'EOF'
import gzip, hashlib, io, json, os, sys, tarfile, time

root, nlayers, big = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
blobs = os.path.join(root, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)

def put(data):
    h = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, h), "wb") as f:
        f.write(data)
    return "sha256:" + h

layers, diff_ids, history = [], [], []
for i in range(nlayers):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        d = tarfile.TarInfo("data%d" % i)
        d.type = tarfile.DIRTYPE
        d.mode = 0o755
        d.mtime = int(time.time())
        tar.addfile(d)
        for j in range(5 if i == 0 and big else 4):
            payload = os.urandom(big if j == 4 else 1000 + 3000 * j + i)
            ti = tarfile.TarInfo("data%d/file%d.bin" % (i, j))
            ti.size = len(payload)
            ti.mode = 0o644
            ti.mtime = int(time.time())
            tar.addfile(ti, io.BytesIO(payload))
    tar_bytes = raw.getvalue()
    diff_ids.append("sha256:" + hashlib.sha256(tar_bytes).hexdigest())
    gz = gzip.compress(tar_bytes, mtime=0)
    layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                   "digest": put(gz), "size": len(gz)})
    history.append({"created": "2024-01-01T00:00:00Z", "created_by": "layer %d" % i})

config = {
    "created": "2024-01-01T00:00:00Z",
    "architecture": "amd64",
    "os": "linux",
    "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["/bin/true"]},
    "rootfs": {"type": "layers", "diff_ids": diff_ids},
    "history": history,
}
cfg = json.dumps(config, separators=(",", ":")).encode()
manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": put(cfg), "size": len(cfg)},
    "layers": layers,
}
mb = json.dumps(manifest, separators=(",", ":")).encode()
md = put(mb)
index = {
    "schemaVersion": 2,
    "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "digest": md, "size": len(mb),
                   "annotations": {"org.opencontainers.image.ref.name": "latest"}}],
}
with open(os.path.join(root, "index.json"), "w") as f:
    json.dump(index, f)
with open(os.path.join(root, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
EOF
}

# layout_manifest DIR: path of the manifest blob of an OCI layout's first image.
layout_manifest() {
    local d
    d=$(jq -r '.manifests[0].digest' "$1/index.json")
    echo "$1/blobs/${d%%:*}/${d#*:}"
}

# owner_api METHOD PATH [JSON]: a request as the owner (credentials in the array OWN), with a JSON body if given.
owner_api() {
    local m=$1 p=$2
    if [ $# -ge 3 ]; then
        req "$m" "$p" "${OWN[@]}" -H 'Content-Type: application/json' --data-binary "$3"
    else
        req "$m" "$p" "${OWN[@]}"
    fi
}

# body_json: the last response body as sorted, compact JSON (as it is when it is not JSON).
body_json() { jq -cS . "$BODY" 2>/dev/null || cat "$BODY"; }

# ---------------------------------------------------------------- gc soaks

# gc_soak SECONDS PAUSE: `berth gc --grace 0` in a loop (PAUSE seconds between runs) beside
# tools/gc_soak.py's pushers, mounters and watcher for SECONDS. GC_RUNS gets the number of runs;
# $WORK/gc.log what they said, $WORK/gc.err a line per failed run, $WORK/soak.json the clients' counts.
gc_soak() {
    local end gc_pid
    end=$(($(date +%s) + $1))
    (
        n=0
        while [ "$(date +%s)" -lt "$end" ]; do
            "$BERTH_BIN" gc --data "$DATA" --grace 0 --no-progress >>"$WORK/gc.log" 2>&1 ||
                echo "gc failed" >>"$WORK/gc.err"
            n=$((n + 1))
            sleep "$2"
        done
        echo "$n" >"$WORK/gc.runs"
    ) &
    gc_pid=$!
    python3 "$REPO/tests/e2e/tools/gc_soak.py" "$URL" "$1" "$WORK/soak.json"
    wait "$gc_pid"
    GC_RUNS=$(cat "$WORK/gc.runs" 2>/dev/null || echo 0)
}

# soak KEY: a count from $WORK/soak.json.
soak() { jq -r ".$1" "$WORK/soak.json"; }

# gc_soak_verdict: what every soak must show: no gc run failed, the clients got work done, and no
# blob of a kept manifest was ever missing, during the soak or after it.
gc_soak_verdict() {
    check "no berth gc run failed" test ! -s "$WORK/gc.err"
    check "pushers had manifests acknowledged ($(soak manifest_ok))" test "$(soak manifest_ok)" -ge 50
    check "mounts were acknowledged during the soak ($(soak mount_ok))" test "$(soak mount_ok)" -gt 0
    check "the watcher checked kept blobs all along ($(soak watch_heads) HEADs)" test "$(soak watch_heads)" -ge 100
    expect_eq "no blob of a kept manifest went missing while it was kept" 0 "$(soak lost_while_kept)"
    expect_eq "every blob of the kept manifests is there at the end ($(soak blobs_checked) checked)" 0 \
        "$(soak blobs_missing)"
    expect_eq "every kept manifest is there at the end" 0 "$(soak manifests_missing)"
}

# dockerd_start: the real docker for a test: Debian's dockerd (vfs, no iptables, no bridge) on a socket
# and in folders of the test's own ($WORK/dk), stopped with the test. Sets DOCKER (the CLI: Debian's,
# else whatever docker is on PATH), DOCKER_HOST (exported) and DOCKERD_PID. Returns 1, with the reason
# in DOCKERD_WHY, when there is no dockerd, this is not root, or the daemon does not answer.
dockerd_start() {
    local dockerd
    work_init
    dockerd=$(command -v dockerd)
    DOCKER=/usr/bin/docker
    [ -x "$DOCKER" ] || DOCKER=$(command -v docker)
    if [ -z "$dockerd" ] || [ -z "$DOCKER" ] || [ "$(id -u)" != 0 ]; then
        DOCKERD_WHY="dockerd is not installed or this is not root (sh scripts/deps.sh test installs docker.io)"
        return 1
    fi
    mkdir -p "$WORK/dk"
    export DOCKER_HOST=unix://$WORK/dk/docker.sock
    "$dockerd" --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs --data-root "$WORK/dk/data" \
        --exec-root "$WORK/dk/exec" --pidfile "$WORK/dk/docker.pid" -H "$DOCKER_HOST" >"$WORK/dockerd.log" 2>&1 &
    DOCKERD_PID=$!
    SERVER_PIDS+=("$DOCKERD_PID")
    for _ in $(seq 150); do
        "$DOCKER" version --format '{{.Server.Version}}' >/dev/null 2>&1 && return 0
        kill -0 "$DOCKERD_PID" 2>/dev/null || break
        sleep 0.2
    done
    DOCKERD_WHY="dockerd does not start here: $(tail -n 2 "$WORK/dockerd.log" | tr '\n' ' ' | cut -c1-200)"
    return 1
}

# owner_token SCOPE...: an access token of the user owner (BERTH_AUTH=1, the first start's password)
# for those scopes on the default registry; empty if refused.
owner_token() {
    local q="service=default.localhost" s
    for s in "$@"; do q="$q&scope=$s"; done
    curl -s -u "owner:$(cat "$DATA/initial-owner-password")" "$URL/oauth2/token?$q" | jq -r '.access_token // empty'
}

# make_tls DIR: a throwaway CA (DIR/ca.pem) and a server certificate it signed for localhost and
# 127.0.0.1 (DIR/srv.pem, DIR/srv.key).
make_tls() {
    mkdir -p "$1"
    (
        cd "$1" || exit 1
        openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=berth test CA" 2>/dev/null
        openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=localhost" 2>/dev/null
        printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >srv.ext
        openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 1 -extfile srv.ext \
            2>/dev/null
    )
}

# ---------------------------------------------------------------- podman

# podman_init: a podman of the test's own for pm (vfs storage in a folder of its own, made in /tmp:
# podman refuses a runroot longer than 50 characters), removed at exit, and /run/containers, which
# podman makes even so, removed too when the test made it and it is still empty. Returns non-zero,
# the reason in PODMAN_WHY, when podman is missing or cannot run here.
PR=""
PODMAN_WHY=""
podman_init() {
    if ! command -v podman >/dev/null 2>&1; then
        PODMAN_WHY="podman is not installed"
        return 1
    fi
    PR=$(mktemp -d /tmp/bp.XXXXXX)
    CLEAN_DIRS+=("$PR")
    mkdir -p "$PR/root" "$PR/run" "$PR/tmp"
    [ -e /run/containers ] || CLEANUP_HOOKS+=("rmdir /run/containers/networks /run/containers 2>/dev/null")
    if ! pm info; then
        PODMAN_WHY="podman cannot run here: $(tail -n 3 "$WORK/podman.out" | tr '\n' ' ')"
        return 1
    fi
}

# pm ARGS...: podman_init's podman, 180 s at most; its output in $WORK/podman.out.
pm() {
    timeout 180 podman --storage-driver vfs --root "$PR/root" --runroot "$PR/run" --tmpdir "$PR/tmp" \
        --events-backend file --cgroup-manager cgroupfs "$@" >"$WORK/podman.out" 2>&1
}
