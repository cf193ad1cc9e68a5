#!/usr/bin/env bash
# berth and docker-registry (CNCF Distribution) with their blobs in S3 (a
# throwaway Ceph RADOS Gateway) and berth's metadata in PostgreSQL, against the
# gateway's own speed, with one berth server and with two behind nginx.
#
#   bash bench/s3.sh [-n RUNS] [-p PHASE,...] [-s SIZE] [options]
#
# See bench/README.md ("Over S3 and PostgreSQL") for what each figure means.

set -u -o pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
CLIENT="$HERE/client.py"
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

RUNS=3
PHASES="ceil,push,pull,conc,chunked,small,tags"
ALL_PHASES="ceil push pull conc chunked small tags repos"
SIZE_ARG=1G
CHUNK_ARG=5M
SMALL_COUNT=1000
SMALL_SIZE_ARG=1K
CONC=8
DURATION=2
CONNS=16
SERVERS="peer,berth,berth2"
TAGS=1000,100000
REPOS=10,10000
PEER_META_MAX=5000
PEER_SMALL_MAX=200
FILL_CONNS=8
GATEWAY=nodelay
BERTH_BIN=${BERTH_BIN:-$ROOT/build/berth}
PEER_BIN=${PEER_BIN:-/usr/bin/docker-registry}
BENCH_DIR=${BENCH_DIR:-/tmp/berth-bench-s3}
KEEP=0
# the gateway's OSD keeps objects in RAM (about twice what is stored, on a
# 3 GiB device): one big blob at a time, and not over this
SIZE_MAX=$((1536 * 1024 * 1024))

usage() {
	cat <<EOF
usage: bash bench/s3.sh [options]
  -n N        runs per figure; the median is reported (default $RUNS)
  -p LIST     phases, comma separated (default $PHASES)
              ceil     the gateway's own PUT and GET of the big blob (curl to the bucket)
              push     monolithic push of one big blob (curl -T)
              pull     GET of that blob: following the 307 to the bucket (curl -L), and
                       streamed through the registry (berth redirect=0, docker-registry
                       redirect disabled)
              conc     -j clients at once push, then pull (307 followed), a blob of
                       SIZE/j each
              chunked  chunked push (PATCH per chunk, then PUT ?digest=)
              small    many small blob pushes on one keep-alive connection
              tags     tags/list?n=100 (first page, and from the middle with last=) and
                       HEAD manifest by tag, at the two tag counts of -t
              repos    HEAD manifest at the two repository counts of -R (not by
                       default: making 10^4 repositories takes a minute on berth, more on
                       docker-registry)
  -s SIZE     big blob size, K/M/G suffixes are binary, at most 1536M (default $SIZE_ARG)
  -c SIZE     chunk size for the chunked push (default $CHUNK_ARG)
  -k COUNT    number of small blobs per run (default $SMALL_COUNT)
  -q COUNT    most small blobs per run on docker-registry, which pushes about 15 a
              second on S3: the figure is a rate (default $PEER_SMALL_MAX)
  -z SIZE     size of each small blob (default $SMALL_SIZE_ARG)
  -j N        clients of the conc phase (default $CONC)
  -t LOW,HIGH tag counts in one repository for the tags phase (default $TAGS)
  -R LOW,HIGH repository counts for the repos phase (default $REPOS)
  -P COUNT    most tags and repositories made on docker-registry, which makes
              about 150 tags or 70 repositories a second on S3 (default
              $PEER_META_MAX; its HIGH is min(HIGH, COUNT))
  -W CONNS    connections that make the tags and repositories (default $FILL_CONNS)
  -d SECONDS  duration of each wrk / ab measurement (default $DURATION)
  -C CONNS    connections for wrk / ab (default $CONNS)
  -S LIST     servers: peer (docker-registry), berth (one server), berth2 (two
              behind nginx) (default $SERVERS)
  -g          restart the gateway with Nagle's algorithm on its sockets (beast's
              default; scripts/rgw.sh starts it with tcp_nodelay=1)
  -b PATH     berth binary (default \$BERTH_BIN or build/berth)
  -r PATH     docker-registry binary (default \$PEER_BIN or $PEER_BIN)
  -K          keep the servers' folders, logs and the big blob file in \$BENCH_DIR
              (the gateway and PostgreSQL are always stopped)
  -h          this help
environment: BENCH_DIR (default /tmp/berth-bench-s3), BERTH_BIN, PEER_BIN
EOF
}

while getopts "n:p:s:c:k:q:z:j:t:R:P:W:d:C:S:gb:r:Kh" opt; do
	case $opt in
	n) RUNS=$OPTARG ;;
	p) PHASES=$OPTARG ;;
	s) SIZE_ARG=$OPTARG ;;
	c) CHUNK_ARG=$OPTARG ;;
	k) SMALL_COUNT=$OPTARG ;;
	q) PEER_SMALL_MAX=$OPTARG ;;
	z) SMALL_SIZE_ARG=$OPTARG ;;
	j) CONC=$OPTARG ;;
	t) TAGS=$OPTARG ;;
	R) REPOS=$OPTARG ;;
	P) PEER_META_MAX=$OPTARG ;;
	W) FILL_CONNS=$OPTARG ;;
	d) DURATION=$OPTARG ;;
	C) CONNS=$OPTARG ;;
	S) SERVERS=$OPTARG ;;
	g) GATEWAY=stock ;;
	b) BERTH_BIN=$OPTARG ;;
	r) PEER_BIN=$OPTARG ;;
	K) KEEP=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

check_args
set_conc_size
((SIZE <= SIZE_MAX)) || die "-s $SIZE_ARG: at most 1536M (the gateway keeps objects in RAM)"
# low_high OPTION VALUE NAME: LOW,HIGH into NAME_LO and NAME_HI
low_high() {
	[[ $2 =~ ^([1-9][0-9]*),([1-9][0-9]*)$ ]] && ((BASH_REMATCH[1] < BASH_REMATCH[2])) ||
		die "bad $1: $2 (want LOW,HIGH with LOW < HIGH)"
	printf -v "${3}_LO" %s "${BASH_REMATCH[1]}"
	printf -v "${3}_HI" %s "${BASH_REMATCH[2]}"
}
low_high -t "$TAGS" TAGS
low_high -R "$REPOS" REPOS
[[ $PEER_META_MAX =~ ^[1-9][0-9]*$ ]] || die "bad -P: $PEER_META_MAX"
[[ $PEER_SMALL_MAX =~ ^[1-9][0-9]*$ ]] || die "bad -q: $PEER_SMALL_MAX"
[[ $FILL_CONNS =~ ^[1-9][0-9]*$ ]] || die "bad -W: $FILL_CONNS"
if want tags || want repos; then
	command -v wrk >/dev/null || die "wrk is required for the tags and repos phases"
	command -v ab >/dev/null || die "ab (apache2-utils) is required for the tags and repos phases"
fi
command -v nginx >/dev/null || [[ ",$SERVERS," != *,berth2,* ]] || die "nginx is required for berth2"
for tool in radosgw-admin psql; do
	command -v "$tool" >/dev/null || die "$tool is required (sh scripts/deps.sh bench)"
done

declare -A SIDE_OK=()
IFS=, read -r -a SIDES <<<"$SERVERS"
for s in "${SIDES[@]}"; do
	case $s in
	peer | berth | berth2) ;;
	*) die "unknown server: $s (known: peer, berth, berth2)" ;;
	esac
done

open_bench_dir

REPO_BIG=bench/big
REPO_SMALL=bench/small
REPO_TAGS=meta/tags
REPO_PREFIX=meta/repos
OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
LATENCY=1
PG_DIR="$BENCH_DIR/pg"
GW_DIR="$BENCH_DIR/rgw"
S3CURL="$TMP/s3.curlrc"
BUCKET_PEER=peer
BUCKET_BERTH=berth
BUCKET_CEIL=ceiling

# ---------------------------------------------------------------- servers

# Instances (PID, BASE): peer and peer0 (docker-registry with and without the
# redirect), berth, berth0 (redirect=0), berth-b and berth-b0 (the second
# server), berth2 and berth20 (nginx in front of berth + berth-b, and of
# berth0 + berth-b0). A side (peer, berth, berth2) is measured through the
# instance of its name, its streamed pull through STREAM; SIDE_PROCS are the
# processes whose CPU counts for it.
INSTANCES="peer peer0 berth berth0 berth-b berth-b0 berth2 berth20"
declare -A PID=() BASE=() DATA=() LAST_BIG=() PULL_DIGEST=() SIDE_PROCS=() STREAM=()
SIDE_PROCS=([peer]="peer peer0" [berth]="berth berth0"
	[berth2]="berth2 berth berth-b berth20 berth0 berth-b0")
STREAM=([peer]=peer0 [berth]=berth0 [berth2]=berth20)
PG_UP=0
GW_UP=0

server_ticks() {
	local i total=0
	for i in ${SIDE_PROCS[$1]}; do
		[[ -n ${PID[$i]:-} ]] && total=$((total + $(cpu_ticks "${PID[$i]}")))
	done
	echo "$total"
}

side_alive() {
	local i
	for i in ${SIDE_PROCS[$1]}; do
		alive "$i" || return 1
	done
}

# s3 ARGS...: curl signed for the gateway (credentials in a curl config file,
# not on the command line)
s3() { curl -K "$S3CURL" "$@"; }

# start_gateway: PostgreSQL and the RADOS Gateway, the gateway's credentials in
# the environment (for berth and docker-registry), the buckets
start_gateway() {
	local b code
	rm -rf "$PG_DIR" "$GW_DIR"
	sh "$ROOT/scripts/pg.sh" start "$PG_DIR" >/dev/null || die "PostgreSQL did not start"
	PG_UP=1
	psql -q -h "$PG_DIR" -U postgres -c 'CREATE DATABASE berth' postgres >/dev/null ||
		die "cannot create the database"
	sh "$ROOT/scripts/rgw.sh" start "$GW_DIR" >/dev/null || die "the gateway did not start"
	GW_UP=1
	set -a
	# shellcheck disable=SC1091
	. "$GW_DIR/env"
	set +a
	# the peer's AWS SDK refuses AWS_CA_BUNDLE with its own transport; plain http anyway
	unset AWS_CA_BUNDLE
	S3_ENDPOINT=$BERTH_TEST_S3_ENDPOINT
	(
		umask 077
		printf 'aws-sigv4 = "aws:amz:%s:s3"\nuser = "%s:%s"\nheader = "x-amz-content-sha256: UNSIGNED-PAYLOAD"\n' \
			"$BERTH_TEST_S3_REGION" "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$S3CURL"
	)
	[[ $GATEWAY == stock ]] && gateway_stock
	for b in "$BUCKET_PEER" "$BUCKET_CEIL"; do
		code=$(s3 -sS -o /dev/null -w '%{http_code}' -X PUT "$S3_ENDPOINT/$b")
		[[ $code == 200 ]] || die "cannot create bucket $b: HTTP $code"
	done
	log "gateway: $(radosgw --version | cut -d' ' -f1-3) on $S3_ENDPOINT ($GATEWAY), PostgreSQL in $PG_DIR"
}

# scripts/rgw.sh runs radosgw with tcp_nodelay=1. With beast's default (Nagle's
# algorithm on) a response whose body follows its head in a second write
# waits for the client's delayed ACK, 40 ms: docker-registry's AWS SDK meets
# that on every S3 answer with a body, berth's hot path almost never. -g
# restarts radosgw that way, to see it.
gateway_stock() {
	local conf="$GW_DIR/ceph.conf" pidf="$GW_DIR/run/client.rgw.pid" pid i
	pid=$(cat "$pidf")
	kill_wait "$pid" 100
	sed -i 's/^\(rgw frontends = beast endpoint=[0-9.:]*\) tcp_nodelay=1$/\1/' "$conf"
	grep -q '^rgw frontends = .* tcp_nodelay=1$' "$conf" && die "cannot turn tcp_nodelay off in $conf"
	setsid radosgw -c "$conf" -n client.rgw -f >>"$GW_DIR/log/rgw.out" 2>&1 </dev/null &
	echo $! >"$pidf"
	for ((i = 0; i < 300; i++)); do
		[[ $(s3 -s -m 2 -o /dev/null -w '%{http_code}' "$S3_ENDPOINT/") == 200 ]] && return 0
		sleep 0.1
	done
	die "radosgw did not come back (log: $GW_DIR/log/client.rgw.log)"
}

gw_admin() { radosgw-admin -c "$GW_DIR/ceph.conf" "$@" 2>/dev/null; }

# gateway_note: what the buckets hold (MiB), and the OSD's memory
gateway_note() {
	local bytes osd rss
	bytes=$(gw_admin bucket stats | jq '[.[] | .usage["rgw.main"].size // 0] | add // 0')
	osd=$(cat "$GW_DIR"/run/osd.*.pid 2>/dev/null | head -1)
	rss=$(status_kb "${osd:-0}" VmRSS)
	log "gateway holds $(calc "${bytes:-0} / 1048576" 0) MiB; OSD RSS $(calc "$rss / 1024" 0) MiB;" \
		"machine: $(free -m | awk '$1 == "Mem:" { print $7 }') MiB available"
}

# start_peer NAME REDIRECT(true|false)
start_peer() {
	local name=$1 redirect=$2 port cfg
	[[ -x $PEER_BIN ]] || { log "$name: $PEER_BIN not found"; return 1; }
	port=$(free_port)
	cfg="$BENCH_DIR/$name-config.yml"
	# Credentials come from the environment (AWS_ACCESS_KEY_ID, ...). The copy
	# threshold is raised to S3's 5 GiB so that a commit is one CopyObject, as
	# berth's is (RGW copies by reference); the default, 32 MiB, copies a big
	# blob part by part and holds it twice in the gateway for a moment.
	peer_config "$cfg" "$port" "  s3:
    region: $BERTH_TEST_S3_REGION
    regionendpoint: $S3_ENDPOINT
    bucket: $BUCKET_PEER
    secure: false
    v4auth: true
    multipartcopythresholdsize: 5368709120
  redirect:
    disable: $([[ $redirect == true ]] && echo false || echo true)"
	"$PEER_BIN" serve "$cfg" >"$BENCH_DIR/$name.log" 2>&1 &
	PID[$name]=$!
	BASE[$name]="http://127.0.0.1:$port"
}

# start_berth NAME DATA REDIRECT(true|false)
start_berth() {
	local name=$1 dir="$BENCH_DIR/$2" port store
	[[ -x $BERTH_BIN ]] || { log "$name: $BERTH_BIN not found (run make)"; return 1; }
	port=$(free_port)
	rm -rf "$dir"
	mkdir -p "$dir"
	store="s3://$BUCKET_BERTH?endpoint=$S3_ENDPOINT&region=$BERTH_TEST_S3_REGION"
	[[ $3 == true ]] || store="$store&redirect=0"
	"$BERTH_BIN" serve --listen "127.0.0.1:$port" --data "$dir" --meta "postgresql://postgres@/berth?host=$PG_DIR" \
		--store "$store" --log-level warn --auth false >"$BENCH_DIR/$name.log" 2>&1 &
	PID[$name]=$!
	BASE[$name]="http://127.0.0.1:$port"
	DATA[$name]=$dir
}

# start_nginx NAME SERVER SERVER: round robin per request over the two (scripts/nginx-pair.sh)
start_nginx() {
	local name=$1 dir="$BENCH_DIR/$1-nginx" port
	port=$(free_port)
	rm -rf "$dir"
	mkdir -p "$dir"
	sh "$ROOT/scripts/nginx-pair.sh" "$dir" "$port" "${BASE[$2]#http://}" "${BASE[$3]#http://}" \
		>"$dir/nginx.conf" || die "cannot write $dir/nginx.conf"
	nginx -c "$dir/nginx.conf" -p "$dir" -g 'daemon off;' >"$BENCH_DIR/$name.log" 2>&1 &
	PID[$name]=$!
	BASE[$name]="http://127.0.0.1:$port"
}

# up NAME: wait until NAME answers GET /v2/ with 200; on failure stop it
up() {
	if wait_ready "$1" 200; then
		return 0
	fi
	log "$1: did not answer GET /v2/ with 200 (log: $BENCH_DIR/$1.log)"
	stop_server "$1"
	return 1
}

start_side() {
	case $1 in
	peer)
		start_peer peer true && up peer && start_peer peer0 false && up peer0
		;;
	berth)
		if [[ -z ${PID[berth]:-} ]]; then
			start_berth berth berth-data true && up berth &&
				start_berth berth0 berth0-data false && up berth0
		fi
		;;
	berth2)
		start_side berth &&
			start_berth berth-b berth-b-data true && up berth-b &&
			start_berth berth-b0 berth-b0-data false && up berth-b0 &&
			start_nginx berth2 berth berth-b && up berth2 &&
			start_nginx berth20 berth0 berth-b0 && up berth20
		;;
	esac
}

cleanup() {
	local s
	trap - EXIT INT TERM
	for s in $INSTANCES; do stop_server "$s"; done
	((GW_UP)) && sh "$ROOT/scripts/rgw.sh" stop "$GW_DIR"
	((PG_UP)) && sh "$ROOT/scripts/pg.sh" stop "$PG_DIR"
	if ((KEEP == 0)); then
		for s in $INSTANCES; do rm -rf "$BENCH_DIR/$s-data" "$BENCH_DIR/$s-nginx"; done
		rm -rf "$BIG" "$TMP" "$PG_DIR" "$GW_DIR" "$BENCH_DIR"/conc-*.blob
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- the bucket

# blob_key SIDE DIGEST: bucket/key of a blob the side's registry stored
blob_key() {
	local hex=${2#sha256:}
	case $1 in
	peer) echo "$BUCKET_PEER/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data" ;;
	*) echo "$BUCKET_BERTH/blobs/sha256/$hex" ;;
	esac
}

# Drop every big blob pushed so far, by any server: unlink it through the API
# (berth's DELETE leaves the bytes to berth gc, docker-registry's to its own
# gc) and delete its object in the bucket, then let radosgw free the bytes now
# rather than after its gc period. So the gateway never holds more than one big
# blob (the servers share one bucket, and the peer's is in the same OSD).
reset_big() {
	local s
	for s in "${SIDES[@]}"; do
		# shellcheck disable=SC2086 # a list of digests
		unlink_blobs "$s" ${LAST_BIG[$s]:-}
		LAST_BIG[$s]=
		PULL_DIGEST[$s]=
	done
	gw_admin gc process --include-all >/dev/null
}

# unlink_blobs SIDE DIGEST...: each blob unlinked through the API and its
# object deleted in the bucket
unlink_blobs() {
	local s=$1 d
	shift
	for d in "$@"; do
		curl -s -o /dev/null -X DELETE "${BASE[$s]}/v2/$REPO_BIG/blobs/$d"
		s3 -s -o /dev/null -X DELETE "$S3_ENDPOINT/$(blob_key "$s" "$d")"
	done
}

# drop_blobs SIDE DIGEST...: the conc phase's blobs, unlinked and deleted,
# their bytes freed by radosgw at once
drop_blobs() {
	unlink_blobs "$@"
	gw_admin gc process --include-all >/dev/null
}

# ---------------------------------------------------------------- phases

# The gateway's own speed for the big blob: one PUT (curl -T, S3 takes up to
# 5 GiB in one PUT) and one GET to /dev/null, straight to a bucket of its own.
phase_ceil() {
	local r=$1 out code got secs url="$S3_ENDPOINT/$BUCKET_CEIL/big"
	reset_big
	fresh_big
	out=$(s3 -sS --max-time 900 -o "$TMP/ceil-body" -w '%{http_code} %{time_total}' -T "$BIG" "$url") ||
		{ log "ceiling: PUT failed"; return 1; }
	read -r code secs <<<"$out"
	if [[ $code == 200 ]]; then
		record "$r" gateway ceil_put_mbs "$(calc "$SIZE / $secs / 1000000" 1)"
		log "run $r ceiling gateway: PUT $(calc "$SIZE / $secs / 1000000" 1) MB/s (${secs}s)"
		out=$(s3 -sS --max-time 900 -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "$url")
		read -r code got secs <<<"$out"
		if [[ $code == 200 && $got == "$SIZE" ]]; then
			record "$r" gateway ceil_get_mbs "$(calc "$SIZE / $secs / 1000000" 1)"
			log "run $r ceiling gateway: GET $(calc "$SIZE / $secs / 1000000" 1) MB/s (${secs}s)"
		else
			log "ceiling: GET answered $code with $got bytes"
		fi
	else
		log "ceiling: PUT answered $code: $(head -c 300 "$TMP/ceil-body")"
	fi
	s3 -s -o /dev/null -X DELETE "$url"
	gw_admin gc process --include-all >/dev/null
}

# measure_tags SIDE RUN LEVEL(lo|hi) COUNT: the first page of the tag list, a
# page from the middle (last=), and HEAD of the middle tag
measure_tags() {
	local s=$1 r=$2 lv=$3 n=$4 mid url
	mid=$(tag_name $((n / 2)))
	url="${BASE[$s]}/v2/$REPO_TAGS"
	probe_get "$s" "$r" "tags_first_$lv" "tags/list first ($n tags)" "$url/tags/list?n=100"
	probe_get "$s" "$r" "tags_deep_$lv" "tags/list last=$mid ($n tags)" "$url/tags/list?n=100&last=$mid"
	probe_head "$s" "$r" "head_tag_$lv" "HEAD manifest :$mid ($n tags)" "$url/manifests/$mid"
}

# warm_url KIND SIDE: a GET that takes the path the measurements take
warm_url() {
	if [[ $1 == tags ]]; then
		echo "${BASE[$2]}/v2/$REPO_TAGS/tags/list?n=100"
	else
		printf '%s/v2/%s/r%07d/manifests/v1' "${BASE[$2]}" "$REPO_PREFIX" $((REPOS_LO / 2))
	fi
}

# measure_repos SIDE RUN LEVEL COUNT: HEAD of a manifest in one repository
# that exists at both counts
measure_repos() {
	local s=$1 r=$2 lv=$3 n=$4 url
	url=$(warm_url repos "$s")
	probe_head "$s" "$r" "head_repo_$lv" "HEAD manifest ${url#*/v2/} ($n repos)" "$url"
}

# meta_phase KIND(tags|repos) LO HI: grow to LO on every side, measure RUNS
# times, grow to HI (docker-registry: to at most PEER_META_MAX), measure again.
# berth2 shares berth's database, so berth's tags and repositories are its.
meta_phase() {
	local kind=$1 lo=$2 hi=$3 lv want s src n r order fills=()
	local -A bad=()
	[[ -n ${SIDE_OK[peer]:-} ]] && fills+=(peer)
	[[ -n ${SIDE_OK[berth]:-}${SIDE_OK[berth2]:-} ]] && fills+=(berth)
	for lv in lo hi; do
		for s in "${fills[@]}"; do
			want=$lo
			[[ $lv == hi ]] && want=$hi
			[[ $s == peer ]] && ((want > PEER_META_MAX)) && want=$PEER_META_MAX
			fill "$kind" "$s" "$want" "$lv" || bad[$s]=1
		done
		# warm-up, not recorded: the first requests after the fill pay for
		# cold caches (in the server, PostgreSQL and the gateway)
		for s in "${ACTIVE[@]}"; do
			side_alive "$s" || continue
			timeout 60 wrk -t2 -c"$CONNS" -d1s -H "Accept: $OCI_MANIFEST" "$(warm_url "$kind" "$s")" >/dev/null 2>&1
		done
		for ((r = 1; r <= RUNS; r++)); do
			read -r -a order <<<"$(run_order "$r" "${ACTIVE[@]}")"
			for s in "${order[@]}"; do
				src=$s
				[[ $s == berth2 ]] && src=berth
				[[ -z ${bad[$src]:-} ]] && side_alive "$s" || continue
				n=${COUNT[$kind:$src]:-0}
				# capped by PEER_META_MAX, the peer may have no higher count
				[[ $lv == hi ]] && ((n <= lo)) && continue
				"measure_$kind" "$s" "$r" "$lv" "$n"
				record "$r" "$s" "${kind}_${lv}_count" "$n"
			done
		done
	done
}

# ---------------------------------------------------------------- main

log "berth s3 bench: runs=$RUNS phases=$PHASES size=$SIZE_ARG chunk=$CHUNK_ARG small=${SMALL_COUNT}x$SMALL_SIZE_ARG" \
	"(peer $PEER_SMALL_MAX) tags=$TAGS repos=$REPOS (peer at most $PEER_META_MAX) duration=${DURATION}s conns=$CONNS"
log "host: $(nproc) cpu(s), $(uname -r), $(free -m | awk '$1 == "Mem:" { print $7 }') MiB available, data under $BENCH_DIR"

start_gateway
ACTIVE=()
for s in "${SIDES[@]}"; do
	if start_side "$s"; then
		ACTIVE+=("$s")
		SIDE_OK[$s]=1
		log "$s: ${BASE[$s]} (streamed pulls: ${BASE[${STREAM[$s]}]})"
	else
		log "$s: did not start; leaving it out"
	fi
done
((${#ACTIVE[@]} > 0)) || die "no server is up"
[[ -n ${PID[peer]:-} ]] && log "peer: $("$PEER_BIN" --version 2>&1 | head -1)"

if want push || want pull || want chunked || want ceil; then
	make_big
fi
want conc && make_conc_blobs

THROUGHPUT=0
for p in ceil push pull conc chunked small; do
	want "$p" && THROUGHPUT=1
done
for ((r = 1; r <= RUNS && THROUGHPUT; r++)); do
	read -r -a order <<<"$(run_order "$r" "${ACTIVE[@]}")"
	log "run $r/$RUNS, order: ${order[*]}"
	want ceil && phase_ceil "$r"
	for s in "${order[@]}"; do
		if ! side_alive "$s"; then
			log "$s: a server process is gone (logs: $BENCH_DIR/*.log)"
			continue
		fi
		# one side at a time through all its phases: reset_big drops every
		# side's big blob, so the gateway holds one at most
		want push && { phase_push "$s" "$r" || true; }
		if want pull; then
			phase_pull "$s" "$r" || true
			phase_pull "$s" "$r" pull_stream "${BASE[${STREAM[$s]}]}" || true
		fi
		if want conc; then
			# the gateway holds the conc blobs (SIZE in all) instead of the big one
			reset_big
			phase_conc "$s" "$r" || true
		fi
		want chunked && { phase_chunked "$s" "$r" || true; }
		if want small; then
			if [[ $s == peer ]] && ((SMALL_COUNT > PEER_SMALL_MAX)); then
				SMALL_COUNT=$PEER_SMALL_MAX phase_small "$s" "$r" || true
			else
				phase_small "$s" "$r" || true
			fi
		fi
	done
	gateway_note
done
((THROUGHPUT)) && reset_big

if want tags || want repos; then
	want tags && meta_phase tags "$TAGS_LO" "$TAGS_HI"
	want repos && meta_phase repos "$REPOS_LO" "$REPOS_HI"
	gateway_note
fi

echo | tee -a "$LOG"
python3 "$HERE/summary.py" --s3 "$RES" "$RUNS" | tee -a "$LOG"
echo | tee -a "$LOG"
echo "log: $LOG" | tee -a "$LOG"
echo "raw: $RES" | tee -a "$LOG"
