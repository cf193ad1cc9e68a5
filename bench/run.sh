#!/usr/bin/env bash
# Side-by-side benchmark of berth and docker-registry (CNCF Distribution).
#
#   bash bench/run.sh [-n RUNS] [-p PHASE,...] [-s SIZE] [options]
#
# See bench/README.md for what each figure means and how to read it.

set -u -o pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
CLIENT="$HERE/client.py"

RUNS=3
PHASES="ceil,push,pull,chunked,small,wrk,auth,rss"
ALL_PHASES="ceil push pull chunked small wrk auth rss"
SIZE_ARG=1G
CHUNK_ARG=5M
SMALL_COUNT=1000
SMALL_SIZE_ARG=1K
DURATION=10
CONNS=64
SERVERS="berth,peer"
BERTH_BIN=${BERTH_BIN:-$ROOT/build/berth}
PEER_BIN=${PEER_BIN:-/usr/bin/docker-registry}
BENCH_DIR=${BENCH_DIR:-/tmp/berth-bench}
KEEP=0

usage() {
	cat <<EOF
usage: bash bench/run.sh [options]
  -n N        runs per figure; the median is reported (default $RUNS)
  -p LIST     phases, comma separated (default $PHASES)
              ceil     sha256 and dd conv=fsync ceilings of this machine
              push     monolithic push of one big blob (curl -T)
              pull     GET of that blob (curl -o /dev/null)
              chunked  chunked push (PATCH per chunk, then PUT ?digest=)
              small    many small blob pushes on one keep-alive connection
              wrk      manifest GET (wrk), manifest HEAD (ab), GET /v2/ (wrk)
              auth     the same manifest GET and HEAD with Basic credentials, and
                       (berth only) GET with a Bearer token, on a second pair of
                       servers that require credentials
              rss      idle RSS after start and peak RSS (VmHWM)
  -s SIZE     big blob size, K/M/G suffixes are binary (default $SIZE_ARG)
  -c SIZE     chunk size for the chunked push (default $CHUNK_ARG)
  -k COUNT    number of small blobs per run (default $SMALL_COUNT)
  -z SIZE     size of each small blob (default $SMALL_SIZE_ARG)
  -d SECONDS  duration of each wrk/ab measurement (default $DURATION)
  -C CONNS    connections for wrk/ab (default $CONNS)
  -S LIST     servers to run: berth,peer (default $SERVERS); with the auth
              phase each also gets a second instance that requires credentials
  -b PATH     berth binary (default \$BERTH_BIN or build/berth)
  -r PATH     docker-registry binary (default \$PEER_BIN or $PEER_BIN)
  -K          keep server data and the big blob file in \$BENCH_DIR
  -h          this help
environment: BENCH_DIR (default /tmp/berth-bench), BERTH_BIN, PEER_BIN
EOF
}

while getopts "n:p:s:c:k:z:d:C:S:b:r:Kh" opt; do
	case $opt in
	n) RUNS=$OPTARG ;;
	p) PHASES=$OPTARG ;;
	s) SIZE_ARG=$OPTARG ;;
	c) CHUNK_ARG=$OPTARG ;;
	k) SMALL_COUNT=$OPTARG ;;
	z) SMALL_SIZE_ARG=$OPTARG ;;
	d) DURATION=$OPTARG ;;
	C) CONNS=$OPTARG ;;
	S) SERVERS=$OPTARG ;;
	b) BERTH_BIN=$OPTARG ;;
	r) PEER_BIN=$OPTARG ;;
	K) KEEP=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

die() { echo "run.sh: $*" >&2; exit 2; }

to_bytes() {
	local v=$1 n mult=1
	case $v in
	*[kK]) mult=1024; n=${v%?} ;;
	*[mM]) mult=$((1024 * 1024)); n=${v%?} ;;
	*[gG]) mult=$((1024 * 1024 * 1024)); n=${v%?} ;;
	*) n=$v ;;
	esac
	[[ $n =~ ^[0-9]+$ ]] || die "bad size: $v"
	echo $((n * mult))
}

SIZE=$(to_bytes "$SIZE_ARG")
CHUNK=$(to_bytes "$CHUNK_ARG")
SMALL_SIZE=$(to_bytes "$SMALL_SIZE_ARG")
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "bad -n: $RUNS"
[[ $SMALL_COUNT =~ ^[1-9][0-9]*$ ]] || die "bad -k: $SMALL_COUNT"
[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "bad -d: $DURATION"
[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "bad -C: $CONNS"
((SIZE > 0 && CHUNK > 0 && SMALL_SIZE > 0)) || die "sizes must be positive"

declare -A WANT=()
IFS=, read -r -a _ph <<<"$PHASES"
for p in "${_ph[@]}"; do
	[[ " $ALL_PHASES " == *" $p "* ]] || die "unknown phase: $p (known: $ALL_PHASES)"
	WANT[$p]=1
done
want() { [[ -n ${WANT[$1]:-} ]]; }

for tool in curl python3 openssl jq; do
	command -v "$tool" >/dev/null || die "$tool is required"
done
for p in wrk auth; do
	want "$p" || continue
	command -v wrk >/dev/null || die "wrk is required for the $p phase"
	command -v ab >/dev/null || die "ab (apache2-utils) is required for the $p phase"
done
# phases measured on the servers started without credentials
NEED_OPEN=0
for p in push pull chunked small wrk rss; do
	want "$p" && NEED_OPEN=1
done

mkdir -p "$BENCH_DIR" || die "cannot create $BENCH_DIR"
BENCH_DIR=$(cd "$BENCH_DIR" && pwd)
STAMP=$(date +%Y%m%d-%H%M%S)
LOG="$BENCH_DIR/bench-$STAMP.log"
RES="$BENCH_DIR/results-$STAMP.tsv"
BIG="$BENCH_DIR/big.blob"
TMP="$BENCH_DIR/tmp"
mkdir -p "$TMP"
: >"$RES"
CLK_TCK=$(getconf CLK_TCK)

REPO_BIG=bench/big
REPO_SMALL=bench/small
REPO_IMG=bench/image
IMG_TAG=v1
OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json

# Credentials of the auth phase. berth refuses passwords shorter than 12
# characters, so its user gets a longer one.
AUTH_USER=bench
PEER_AUTH_PASS=benchpw
BERTH_AUTH_PASS=benchpw-benchpw
BCRYPT_COST=5

# ---------------------------------------------------------------- helpers

log() {
	local la
	la=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)
	printf '%s load %s | %s\n' "$(date +%H:%M:%S)" "$la" "$*" | tee -a "$LOG"
}

# record RUN SERVER KEY VALUE
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RES"; }

calc() { awk "BEGIN { printf \"%.${2:-2}f\", $1 }"; }

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# PID and all its live descendants (a server may fork workers)
proc_tree() {
	local p
	echo "$1"
	for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		proc_tree "$p"
	done
}

# server CPU time (utime + stime of all threads, plus reaped children and
# live descendants) in clock ticks
cpu_ticks() {
	local pid stat total=0
	for pid in $(proc_tree "$1"); do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
		stat=${stat##*) }
		total=$((total + $(awk '{ print $12 + $13 + $14 + $15 }' <<<"$stat")))
	done
	echo "$total"
}

cpu_secs() { calc "($2 - $1) / $CLK_TCK" 3; }

# status_kb PID FIELD: FIELD (VmRSS, VmHWM) summed over the process tree
status_kb() {
	local pid total=0 v
	for pid in $(proc_tree "$1"); do
		v=$(awk -v k="$2:" '$1 == k { print $2 }' "/proc/$pid/status" 2>/dev/null)
		total=$((total + ${v:-0}))
	done
	echo "$total"
}

# ---------------------------------------------------------------- servers

# Instances: "berth" and "peer" run without credentials; "berth-auth" and
# "peer-auth" (auth phase only) require them. Results are recorded under the
# side ("berth" or "peer"), which is the instance name without "-auth".
INSTANCES="berth peer berth-auth peer-auth"
declare -A PID=() BASE=() DATA=() LAST_BIG=() PULL_DIGEST=() IMAGE_READY=() BASIC=() BASIC_PASS=()
ACTIVE=()
AUTH_ACTIVE=()
OWNER_PASS=

# wait_ready INSTANCE CODE: until GET /v2/ without credentials answers CODE
wait_ready() {
	local s=$1 code=$2 i
	for ((i = 0; i < 150; i++)); do
		if ! kill -0 "${PID[$s]}" 2>/dev/null; then
			return 1
		fi
		if [[ $(curl -s -o /dev/null -w '%{http_code}' "${BASE[$s]}/v2/") == "$code" ]]; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# basic_header USER PASSWORD: the value of an Authorization header
basic_header() { printf 'Basic %s' "$(printf '%s:%s' "$1" "$2" | base64 -w0)"; }

# start_peer INSTANCE AUTH(0|1)
start_peer() {
	local name=$1 auth=$2 port dir cfg htp authcfg=
	[[ -x $PEER_BIN ]] || { log "$name: $PEER_BIN not found, skipping docker-registry"; return 1; }
	port=$(free_port)
	dir="$BENCH_DIR/$name-data"
	cfg="$BENCH_DIR/$name-config.yml"
	rm -rf "$dir"
	mkdir -p "$dir"
	if ((auth)); then
		command -v htpasswd >/dev/null ||
			{ log "$name: htpasswd (apache2-utils) not found, skipping docker-registry with auth"; return 1; }
		htp="$BENCH_DIR/$name.htpasswd"
		rm -f "$htp"
		htpasswd -B -C "$BCRYPT_COST" -b -c "$htp" "$AUTH_USER" "$PEER_AUTH_PASS" 2>/dev/null ||
			{ log "$name: htpasswd failed"; return 1; }
		authcfg="auth:
  htpasswd:
    realm: bench
    path: $htp"
		BASIC_PASS[$name]=$PEER_AUTH_PASS
		BASIC[$name]=$(basic_header "$AUTH_USER" "$PEER_AUTH_PASS")
	fi
	cat >"$cfg" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
$authcfg
EOF
	"$PEER_BIN" serve "$cfg" >"$BENCH_DIR/$name.log" 2>&1 &
	PID[$name]=$!
	BASE[$name]="http://127.0.0.1:$port"
	DATA[$name]=$dir
}

# start_berth INSTANCE AUTH(0|1)
start_berth() {
	local name=$1 auth=$2 port dir open=(--auth false)
	[[ -x $BERTH_BIN ]] || { log "$name: $BERTH_BIN not found (run make), skipping berth"; return 1; }
	port=$(free_port)
	dir="$BENCH_DIR/$name-data"
	rm -rf "$dir"
	mkdir -p "$dir"
	((auth)) && open=()
	"$BERTH_BIN" serve --listen "127.0.0.1:$port" --data "$dir" --log-level warn "${open[@]}" \
		>"$BENCH_DIR/$name.log" 2>&1 &
	PID[$name]=$!
	BASE[$name]="http://127.0.0.1:$port"
	DATA[$name]=$dir
}

# owner_post INSTANCE PATH JSON: POST to berth's management API as the owner
owner_post() {
	local s=$1 path=$2 body=$3 code
	code=$(curl -sS -o "$TMP/api-body" -w '%{http_code}' -u "owner:$OWNER_PASS" \
		-H 'Content-Type: application/json' --data-binary "$body" "${BASE[$s]}$path") || return 1
	[[ $code == 200 || $code == 201 ]] && return 0
	log "$s: POST $path answered $code: $(head -c 300 "$TMP/api-body")"
	return 1
}

# Give berth-auth a user with push rights on the default registry, using the
# owner password berth writes to its data folder at first start.
setup_berth_auth() {
	local s=$1 pwfile="${DATA[$1]}/initial-owner-password" i
	for ((i = 0; i < 50; i++)); do
		[[ -s $pwfile ]] && break
		sleep 0.1
	done
	[[ -s $pwfile ]] || { log "$s: $pwfile was not written"; return 1; }
	OWNER_PASS=$(head -1 "$pwfile")
	owner_post "$s" /api/v1/users \
		"$(jq -cn --arg n "$AUTH_USER" --arg p "$BERTH_AUTH_PASS" '{name: $n, password: $p}')" &&
		owner_post "$s" /api/v1/roleAssignments \
			"$(jq -cn --arg n "$AUTH_USER" '{principal: $n, role: "AcrPush", scope: "/registries/default"}')"
	local rc=$?
	OWNER_PASS=
	((rc == 0)) || return 1
	BASIC_PASS[$s]=$BERTH_AUTH_PASS
	BASIC[$s]=$(basic_header "$AUTH_USER" "$BERTH_AUTH_PASS")
}

# start_instance INSTANCE: start it and wait until it serves (for an auth
# instance: until the bench user gets 200 on /v2/). On failure it is stopped
# again and the answer is 1.
start_instance() {
	local s=$1 kind=${1%-auth} auth=0 code=200
	if [[ $s == *-auth ]]; then
		auth=1
		code=401
	fi
	"start_$kind" "$s" "$auth" || return 1
	if ! wait_ready "$s" "$code"; then
		log "$s: did not answer GET /v2/ with $code (log: $BENCH_DIR/$s.log); leaving it out"
		stop_server "$s"
		return 1
	fi
	if [[ $kind == berth ]] && ((auth)) && ! setup_berth_auth "$s"; then
		log "$s: could not create the $AUTH_USER user; leaving it out"
		stop_server "$s"
		return 1
	fi
	if ((auth)); then
		code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: ${BASIC[$s]}" "${BASE[$s]}/v2/")
		if [[ $code != 200 ]]; then
			log "$s: GET /v2/ as $AUTH_USER answered $code; leaving it out"
			stop_server "$s"
			return 1
		fi
	fi
	log "$s: pid ${PID[$s]} on ${BASE[$s]}"
}

stop_server() {
	local s=$1 pid=${PID[$1]:-} i
	[[ -n $pid ]] || return 0
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null
		for ((i = 0; i < 50; i++)); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" 2>/dev/null
	PID[$s]=
}

cleanup() {
	local s
	trap - EXIT INT TERM
	for s in $INSTANCES; do stop_server "$s"; done
	if ((KEEP == 0)); then
		for s in $INSTANCES; do rm -rf "$BENCH_DIR/$s-data"; done
		rm -rf "$BIG" "$TMP" "$BENCH_DIR/dd.out" "$BENCH_DIR/peer-auth.htpasswd"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

alive() { kill -0 "${PID[$1]}" 2>/dev/null; }

# ---------------------------------------------------------------- blob content

CUR_DIGEST=

make_big() {
	if [[ -f $BIG && $(stat -c %s "$BIG") == "$SIZE" ]]; then
		return
	fi
	log "writing $SIZE_ARG of random data to $BIG"
	openssl rand -out "$BIG" "$SIZE" || die "cannot write $BIG"
}

# New random first bytes: a new digest without rewriting the whole file,
# so every push stores bytes the server has never seen.
fresh_big() {
	head -c 32 /dev/urandom | dd of="$BIG" bs=32 count=1 conv=notrunc status=none
	CUR_DIGEST="sha256:$(openssl dgst -sha256 -r "$BIG" | cut -c1-64)"
}

# Remove every big blob previously pushed to server S.
reset_big() {
	local s=$1 d hex
	for d in ${LAST_BIG[$s]:-}; do
		curl -s -o /dev/null -X DELETE "${BASE[$s]}/v2/$REPO_BIG/blobs/$d"
		if [[ $s == peer ]]; then
			# Distribution's DELETE only unlinks the repository; drop the data too.
			hex=${d#sha256:}
			rm -rf "${DATA[peer]}/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex"
		fi
	done
	LAST_BIG[$s]=
	PULL_DIGEST[$s]=
}

abs_url() {
	local s=$1 loc=$2
	case $loc in
	http://* | https://*) echo "$loc" ;;
	/*) echo "${BASE[$s]}$loc" ;;
	*) echo "${BASE[$s]}/$loc" ;;
	esac
}

# ---------------------------------------------------------------- phases

phase_ceil() {
	local out kbs mbs t0 t1 secs
	out=$(openssl speed -evp sha256 -bytes 16384 -seconds 2 2>/dev/null | awk '$1 == "sha256" { print $2 }')
	kbs=${out%k}
	if [[ -n $kbs ]]; then
		mbs=$(calc "$kbs / 1000" 1)
		record 0 - ceil_sha256_mbs "$mbs"
		log "ceiling: sha256 (openssl, 16 KiB blocks, one core): $mbs MB/s"
	fi
	sync
	t0=$(date +%s.%N)
	dd if="$BIG" of="$BENCH_DIR/dd.out" bs=1M conv=fsync status=none
	t1=$(date +%s.%N)
	rm -f "$BENCH_DIR/dd.out"
	secs=$(calc "$t1 - $t0" 3)
	mbs=$(calc "$SIZE / ($t1 - $t0) / 1000000" 1)
	record 0 - ceil_dd_mbs "$mbs"
	log "ceiling: dd $SIZE_ARG from page cache to $BENCH_DIR conv=fsync: $mbs MB/s (${secs}s)"
}

phase_push() {
	local s=$1 r=$2 c0 c1 hdr out code tp tu loc url mbs cpu
	reset_big "$s"
	fresh_big
	sync
	hdr="$TMP/push-headers"
	c0=$(cpu_ticks "${PID[$s]}")
	out=$(curl -sS --max-time 900 -D "$hdr" -o /dev/null -w '%{http_code} %{time_total}' \
		-X POST "${BASE[$s]}/v2/$REPO_BIG/blobs/uploads/") || { log "push $s: POST failed"; return 1; }
	read -r code tp <<<"$out"
	[[ $code == 202 ]] || { log "push $s: POST answered $code"; return 1; }
	loc=$(awk 'tolower($1) == "location:" { print $2 }' "$hdr" | tr -d '\r' | tail -1)
	url=$(abs_url "$s" "$loc")
	[[ $url == *\?* ]] && url="$url&digest=$CUR_DIGEST" || url="$url?digest=$CUR_DIGEST"
	out=$(curl -sS --max-time 900 -o "$TMP/push-body" -w '%{http_code} %{time_total}' \
		-T "$BIG" -H 'Content-Type: application/octet-stream' -H 'Expect:' "$url") ||
		{ log "push $s: PUT failed"; return 1; }
	c1=$(cpu_ticks "${PID[$s]}")
	read -r code tu <<<"$out"
	LAST_BIG[$s]="${LAST_BIG[$s]:-} $CUR_DIGEST"
	[[ $code == 201 ]] || { log "push $s: PUT answered $code: $(head -c 300 "$TMP/push-body")"; return 1; }
	PULL_DIGEST[$s]=$CUR_DIGEST
	mbs=$(calc "$SIZE / ($tp + $tu) / 1000000" 1)
	cpu=$(cpu_secs "$c0" "$c1")
	record "$r" "$s" push_mbs "$mbs"
	record "$r" "$s" push_cpu_gib "$(calc "$cpu * 1073741824 / $SIZE" 3)"
	log "run $r push    $s: $mbs MB/s ($(calc "$tp + $tu" 3)s, server cpu ${cpu}s)"
}

phase_pull() {
	local s=$1 r=$2 d c0 c1 out code got secs mbs cpu
	d=${PULL_DIGEST[$s]:-}
	if [[ -z $d || $(curl -s -o /dev/null -w '%{http_code}' -I "${BASE[$s]}/v2/$REPO_BIG/blobs/$d") != 200 ]]; then
		reset_big "$s"
		fresh_big
		python3 "$CLIENT" ensure "${BASE[$s]}" "$REPO_BIG" "$BIG" "$CUR_DIGEST" >/dev/null ||
			{ log "pull $s: could not store the blob to pull"; return 1; }
		LAST_BIG[$s]="${LAST_BIG[$s]:-} $CUR_DIGEST"
		d=$CUR_DIGEST
		PULL_DIGEST[$s]=$d
	fi
	c0=$(cpu_ticks "${PID[$s]}")
	out=$(curl -sS --max-time 900 -L -o /dev/null -w '%{http_code} %{size_download} %{time_total}' \
		"${BASE[$s]}/v2/$REPO_BIG/blobs/$d") || { log "pull $s: GET failed"; return 1; }
	c1=$(cpu_ticks "${PID[$s]}")
	read -r code got secs <<<"$out"
	[[ $code == 200 && $got == "$SIZE" ]] || { log "pull $s: answered $code with $got bytes"; return 1; }
	mbs=$(calc "$SIZE / $secs / 1000000" 1)
	cpu=$(cpu_secs "$c0" "$c1")
	record "$r" "$s" pull_mbs "$mbs"
	record "$r" "$s" pull_cpu_gib "$(calc "$cpu * 1073741824 / $SIZE" 3)"
	log "run $r pull    $s: $mbs MB/s (${secs}s, server cpu ${cpu}s)"
}

phase_chunked() {
	local s=$1 r=$2 c0 c1 out rc secs patches mbs cpu
	reset_big "$s"
	fresh_big
	sync
	c0=$(cpu_ticks "${PID[$s]}")
	out=$(python3 "$CLIENT" chunked "${BASE[$s]}" "$REPO_BIG" "$BIG" "$CUR_DIGEST" "$CHUNK")
	rc=$?
	c1=$(cpu_ticks "${PID[$s]}")
	LAST_BIG[$s]="${LAST_BIG[$s]:-} $CUR_DIGEST"
	((rc == 0)) || { log "chunked $s: client failed"; return 1; }
	PULL_DIGEST[$s]=$CUR_DIGEST
	secs=$(jq -r .seconds <<<"$out")
	patches=$(jq -r .patches <<<"$out")
	mbs=$(calc "$SIZE / $secs / 1000000" 1)
	cpu=$(cpu_secs "$c0" "$c1")
	record "$r" "$s" chunked_mbs "$mbs"
	record "$r" "$s" chunked_cpu_gib "$(calc "$cpu * 1073741824 / $SIZE" 3)"
	log "run $r chunked $s: $mbs MB/s ($(calc "$secs" 3)s, $patches PATCH, server cpu ${cpu}s)"
}

phase_small() {
	local s=$1 r=$2 c0 c1 out rc secs mode pps cpu
	c0=$(cpu_ticks "${PID[$s]}")
	out=$(python3 "$CLIENT" small "${BASE[$s]}" "$REPO_SMALL" "$SMALL_COUNT" "$SMALL_SIZE")
	rc=$?
	c1=$(cpu_ticks "${PID[$s]}")
	((rc == 0)) || { log "small $s: client failed"; return 1; }
	secs=$(jq -r .seconds <<<"$out")
	mode=$(jq -r .mode <<<"$out")
	pps=$(calc "$SMALL_COUNT / $secs" 1)
	cpu=$(cpu_secs "$c0" "$c1")
	record "$r" "$s" small_ps "$pps"
	record "$r" "$s" small_cpu_us "$(calc "$cpu * 1000000 / $SMALL_COUNT" 0)"
	log "run $r small   $s: $pps pushes/s ($SMALL_COUNT x $SMALL_SIZE_ARG in $(calc "$secs" 3)s, $mode, server cpu ${cpu}s)"
}

# wrk_one INSTANCE RUN KEY LABEL URL [wrk args]
wrk_one() {
	local s=$1 r=$2 key=$3 label=$4 url=$5 c0 c1 out rps n bad errs cpu
	shift 5
	c0=$(cpu_ticks "${PID[$s]}")
	out=$(timeout $((DURATION + 60)) wrk -t2 -c"$CONNS" -d"${DURATION}s" "$@" "$url" 2>&1)
	c1=$(cpu_ticks "${PID[$s]}")
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	n=$(awk '/ requests in / { print $1 }' <<<"$out")
	bad=$(awk -F: '/Non-2xx or 3xx responses/ { gsub(/ /, "", $2); print $2 }' <<<"$out")
	[[ -n $rps && -n $n ]] || { log "$label $s: wrk failed: $(tail -3 <<<"$out" | tr '\n' ' ')"; return 1; }
	cpu=$(cpu_secs "$c0" "$c1")
	if [[ -n $bad && $bad != 0 ]]; then
		log "$label $s: $bad non-2xx answers, figure discarded"
		return 1
	fi
	record "$r" "${s%-auth}" "${key}_rps" "$rps"
	record "$r" "${s%-auth}" "${key}_cpu_us" "$(calc "$cpu * 1000000 / $n" 1)"
	errs=$(grep -m1 'Socket errors' <<<"$out" | sed 's/^ *//')
	log "run $r $label $s: $rps req/s ($n requests, ${errs:+$errs, }server cpu ${cpu}s)"
}

# ab_head INSTANCE RUN KEY LABEL URL [ab args]
ab_head() {
	local s=$1 r=$2 key=$3 label=$4 url=$5 c0 c1 out rps n failed bad ka cpu
	shift 5
	c0=$(cpu_ticks "${PID[$s]}")
	out=$(timeout $((DURATION + 60)) ab -r -k -i -c "$CONNS" -t "$DURATION" -n 2000000 \
		-H "Accept: $OCI_MANIFEST" "$@" "$url" 2>&1)
	c1=$(cpu_ticks "${PID[$s]}")
	rps=$(awk '/^Requests per second:/ { print $4 }' <<<"$out")
	n=$(awk '/^Complete requests:/ { print $3 }' <<<"$out")
	failed=$(awk '/^Failed requests:/ { print $3 }' <<<"$out")
	bad=$(awk '/^Non-2xx responses:/ { print $3 }' <<<"$out")
	ka=$(awk '/^Keep-Alive requests:/ { print $3 }' <<<"$out")
	[[ -n $rps && -n $n && $n != 0 ]] ||
		{ log "$label $s: ab failed or timed out: $(tail -3 <<<"$out" | tr -s ' \n' ' ')"; return 1; }
	cpu=$(cpu_secs "$c0" "$c1")
	if [[ -n $bad && $bad != 0 ]]; then
		log "$label $s: $bad non-2xx answers, figure discarded"
		return 1
	fi
	record "$r" "${s%-auth}" "${key}_rps" "$rps"
	record "$r" "${s%-auth}" "${key}_cpu_us" "$(calc "$cpu * 1000000 / $n" 1)"
	log "run $r $label $s: $rps req/s ($n requests, ${ka:-0} kept alive, ${failed:-0} failed, server cpu ${cpu}s)"
}

phase_wrk() {
	local s=$1 r=$2 murl
	if [[ -z ${IMAGE_READY[$s]:-} ]]; then
		python3 "$CLIENT" image "${BASE[$s]}" "$REPO_IMG" "$IMG_TAG" >/dev/null ||
			{ log "wrk $s: could not push the image"; return 1; }
		IMAGE_READY[$s]=1
	fi
	murl="${BASE[$s]}/v2/$REPO_IMG/manifests/$IMG_TAG"
	# warm-up, not recorded
	timeout 60 wrk -t2 -c"$CONNS" -d1s -H "Accept: $OCI_MANIFEST" "$murl" >/dev/null 2>&1
	wrk_one "$s" "$r" get_manifest "GET manifest" "$murl" -H "Accept: $OCI_MANIFEST"
	ab_head "$s" "$r" head_manifest "HEAD manifest" "$murl"
	wrk_one "$s" "$r" get_v2 "GET /v2/" "${BASE[$s]}/v2/"
}

# The manifest GET and HEAD of the wrk phase, on an instance that requires
# credentials, with Basic credentials on every request; for berth also GET
# with a Bearer token from its token endpoint.
phase_auth() {
	local s=$1 r=$2 murl ah tok
	ah="Authorization: ${BASIC[$s]}"
	if [[ -z ${IMAGE_READY[$s]:-} ]]; then
		python3 "$CLIENT" image "${BASE[$s]}" "$REPO_IMG" "$IMG_TAG" "${BASIC[$s]}" >/dev/null ||
			{ log "auth $s: could not push the image"; return 1; }
		IMAGE_READY[$s]=1
	fi
	murl="${BASE[$s]}/v2/$REPO_IMG/manifests/$IMG_TAG"
	# warm-up, not recorded
	timeout 60 wrk -t2 -c"$CONNS" -d1s -H "$ah" -H "Accept: $OCI_MANIFEST" "$murl" >/dev/null 2>&1
	wrk_one "$s" "$r" get_manifest_auth "GET manifest Basic" "$murl" -H "$ah" -H "Accept: $OCI_MANIFEST"
	ab_head "$s" "$r" head_manifest_auth "HEAD manifest Basic" "$murl" -H "$ah"
	[[ ${s%-auth} == berth ]] || return 0
	# docker-registry has no token server in this setup: Bearer is berth only
	tok=$(curl -sS -u "$AUTH_USER:${BASIC_PASS[$s]}" \
		"${BASE[$s]}/oauth2/token?service=default.localhost&scope=repository:$REPO_IMG:pull" |
		jq -r '.access_token // empty')
	[[ -n $tok ]] || { log "auth $s: no access token from /oauth2/token"; return 1; }
	wrk_one "$s" "$r" get_manifest_bearer "GET manifest Bearer" "$murl" \
		-H "Authorization: Bearer $tok" -H "Accept: $OCI_MANIFEST"
}

rss_note() {
	local s=$1 what=$2 hwm rss
	hwm=$(status_kb "${PID[$s]}" VmHWM)
	rss=$(status_kb "${PID[$s]}" VmRSS)
	log "$s rss ${what}: VmRSS $(calc "${rss:-0} / 1024" 1) MiB, VmHWM $(calc "${hwm:-0} / 1024" 1) MiB"
}

# ---------------------------------------------------------------- main

log "berth bench: runs=$RUNS phases=$PHASES size=$SIZE_ARG chunk=$CHUNK_ARG small=${SMALL_COUNT}x$SMALL_SIZE_ARG duration=${DURATION}s conns=$CONNS"
log "host: $(nproc) cpu(s), $(uname -r), data under $BENCH_DIR"

IFS=, read -r -a _sv <<<"$SERVERS"
for s in "${_sv[@]}"; do
	case $s in
	peer | berth) ;;
	*) die "unknown server: $s (known: berth, peer)" ;;
	esac
done

# The servers without credentials; skipped when only the auth phase needs
# servers.
if ((NEED_OPEN)) || ! want auth; then
	for s in "${_sv[@]}"; do
		start_instance "$s" && ACTIVE+=("$s")
	done
fi

if ((${#ACTIVE[@]} > 0)); then
	sleep 1
	for s in "${ACTIVE[@]}"; do
		if want rss; then
			rss=$(status_kb "${PID[$s]}" VmRSS)
			record 0 "$s" rss_idle_mib "$(calc "${rss:-0} / 1024" 1)"
		fi
		rss_note "$s" "idle after start"
	done
fi

# The servers that require credentials, started after the idle RSS sample
# so that it is not disturbed.
if want auth; then
	for s in "${_sv[@]}"; do
		start_instance "$s-auth" && AUTH_ACTIVE+=("$s-auth")
	done
fi

((${#ACTIVE[@]} + ${#AUTH_ACTIVE[@]} > 0)) || die "no server is up"

if [[ " ${ACTIVE[*]} ${AUTH_ACTIVE[*]} " == *" peer"[\ -]* ]]; then
	log "peer: $("$PEER_BIN" --version 2>&1 | head -1)"
fi

if want push || want pull || want chunked || want ceil; then
	make_big
fi

if want ceil; then
	phase_ceil
fi

# run_order RUN INSTANCE...: the instances, reversed in even runs
run_order() {
	local r=$1
	shift
	if (($# == 2)) && ((r % 2 == 0)); then
		echo "$2 $1"
	else
		echo "$*"
	fi
}

for ((r = 1; r <= RUNS; r++)); do
	read -r -a order <<<"$(run_order "$r" "${ACTIVE[@]}")"
	read -r -a aorder <<<"$(run_order "$r" "${AUTH_ACTIVE[@]}")"
	all=("${order[@]}" "${aorder[@]}")
	log "run $r/$RUNS, order: ${all[*]}"
	for p in push pull chunked small wrk auth; do
		want "$p" || continue
		if [[ $p == auth ]]; then
			list=("${aorder[@]}")
		else
			list=("${order[@]}")
		fi
		for s in "${list[@]}"; do
			if ! alive "$s"; then
				log "$s: server process is gone (log: $BENCH_DIR/$s.log)"
				continue
			fi
			"phase_$p" "$s" "$r" || true
		done
	done
done

for s in "${ACTIVE[@]}" "${AUTH_ACTIVE[@]}"; do
	alive "$s" || continue
	rss_note "$s" "at end"
	if want rss && [[ $s != *-auth ]]; then
		hwm=$(status_kb "${PID[$s]}" VmHWM)
		record 0 "$s" rss_peak_mib "$(calc "${hwm:-0} / 1024" 1)"
	fi
done

echo | tee -a "$LOG"
python3 "$HERE/summary.py" "$RES" "$RUNS" | tee -a "$LOG"
echo | tee -a "$LOG"
echo "log: $LOG" | tee -a "$LOG"
echo "raw: $RES" | tee -a "$LOG"
