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
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

RUNS=3
PHASES="ceil,push,pull,conc,chunked,small,wrk,auth,rss"
ALL_PHASES="ceil push pull conc chunked small wrk auth rss scale"
SIZE_ARG=1G
CHUNK_ARG=5M
SMALL_COUNT=1000
SMALL_SIZE_ARG=1K
DURATION=10
CONNS=64
CONC=8
TAGS_HI=100000
REPOS_HI=10000
FILL_CONNS=8
FILL_LIMIT=600
SERVERS="berth,peer"
# the low count of the scale phase: tags in its big repository, repositories
SCALE_LO=200
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
              push     monolithic push of one big blob (curl -T), and of the same
                       blob to bench/floor.py (recv, hash, write, fsync: the floor)
              pull     GET of that blob (curl -o /dev/null), and of the same file from
                       nginx with sendfile on and off (the ceiling)
              conc     -j clients at once push, then pull, a blob of SIZE/j each
              chunked  chunked push (PATCH per chunk, then PUT ?digest=)
              small    many small blob pushes on one keep-alive connection
              wrk      manifest GET (wrk), manifest HEAD (ab), GET /v2/ (wrk)
              auth     the same manifest GET and HEAD with Basic credentials, and
                       (berth only) GET with a Bearer token, on a second pair of
                       servers that require credentials
              rss      idle RSS after start and peak RSS (VmHWM)
              scale    (not by default: several minutes) HEAD manifest, tags/list
                       and _catalog at $SCALE_LO tags and repositories, then at -T
                       tags in one repository and -R repositories
  -s SIZE     big blob size, K/M/G suffixes are binary (default $SIZE_ARG)
  -c SIZE     chunk size for the chunked push (default $CHUNK_ARG)
  -k COUNT    number of small blobs per run (default $SMALL_COUNT)
  -z SIZE     size of each small blob (default $SMALL_SIZE_ARG)
  -j N        clients of the conc phase (default $CONC)
  -T TAGS     tags in the big repository of the scale phase (default $TAGS_HI)
  -R REPOS    repositories of the scale phase (default $REPOS_HI)
  -W CONNS    connections that make the tags and repositories (default $FILL_CONNS)
  -L SECONDS  most time one server may take to make them; past it its
              figures at that count are skipped (default $FILL_LIMIT)
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

while getopts "n:p:s:c:k:z:j:T:R:W:L:d:C:S:b:r:Kh" opt; do
	case $opt in
	n) RUNS=$OPTARG ;;
	p) PHASES=$OPTARG ;;
	s) SIZE_ARG=$OPTARG ;;
	c) CHUNK_ARG=$OPTARG ;;
	k) SMALL_COUNT=$OPTARG ;;
	z) SMALL_SIZE_ARG=$OPTARG ;;
	j) CONC=$OPTARG ;;
	T) TAGS_HI=$OPTARG ;;
	R) REPOS_HI=$OPTARG ;;
	W) FILL_CONNS=$OPTARG ;;
	L) FILL_LIMIT=$OPTARG ;;
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

check_args
[[ $FILL_CONNS =~ ^[1-9][0-9]*$ ]] || die "bad -W: $FILL_CONNS"
[[ $FILL_LIMIT =~ ^[1-9][0-9]*$ ]] || die "bad -L: $FILL_LIMIT"
if ! [[ $TAGS_HI =~ ^[0-9]+$ ]] || ((TAGS_HI <= SCALE_LO)); then die "bad -T: $TAGS_HI (want more than $SCALE_LO)"; fi
if ! [[ $REPOS_HI =~ ^[0-9]+$ ]] || ((REPOS_HI <= SCALE_LO)); then die "bad -R: $REPOS_HI (want more than $SCALE_LO)"; fi
set_conc_size
for p in wrk auth scale; do
	want "$p" || continue
	command -v wrk >/dev/null || die "wrk is required for the $p phase"
	command -v ab >/dev/null || die "ab (apache2-utils) is required for the $p phase"
done
# phases measured on the servers started without credentials
NEED_OPEN=0
for p in push pull conc chunked small wrk rss scale; do
	want "$p" && NEED_OPEN=1
done

open_bench_dir

REPO_BIG=bench/big
REPO_SMALL=bench/small
REPO_IMG=bench/image
REPO_TAGS=scale/tags
REPO_ONE=scale/one
REPO_PREFIX=scale/repos
IMG_TAG=v1
OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json

# Credentials of the auth phase. berth refuses passwords shorter than 12
# characters, so its user gets a longer one.
AUTH_USER=bench
PEER_AUTH_PASS=benchpw
BERTH_AUTH_PASS=benchpw-benchpw
BCRYPT_COST=5

# ---------------------------------------------------------------- servers

# Instances: "berth" and "peer" run without credentials; "berth-auth" and
# "peer-auth" (auth phase only) require them. Results are recorded under the
# side ("berth" or "peer"), which is the instance name without "-auth".
INSTANCES="berth peer berth-auth peer-auth nginx floor"
declare -A PID=() BASE=() DATA=() LAST_BIG=() PULL_DIGEST=() IMAGE_READY=() BASIC=() BASIC_PASS=()
ACTIVE=()
AUTH_ACTIVE=()
OWNER_PASS=

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
	peer_config "$cfg" "$port" "  filesystem:
    rootdirectory: $dir" "$authcfg"
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

cleanup() {
	local s
	trap - EXIT INT TERM
	for s in $INSTANCES; do stop_server "$s"; done
	if ((KEEP == 0)); then
		for s in $INSTANCES; do rm -rf "$BENCH_DIR/$s-data"; done
		rm -rf "$BIG" "$TMP" "$BENCH_DIR/dd.out" "$BENCH_DIR/peer-auth.htpasswd" "$BENCH_DIR/nginx" \
			"$BENCH_DIR"/conc-*.blob "$BENCH_DIR/floor"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# ---------------------------------------------------------------- blob content

# drop_blobs SERVER DIGEST...: remove these blobs of REPO_BIG from SERVER
drop_blobs() {
	local s=$1 d hex
	shift
	for d in "$@"; do
		curl -s -o /dev/null -X DELETE "${BASE[$s]}/v2/$REPO_BIG/blobs/$d"
		if [[ $s == peer ]]; then
			# Distribution's DELETE only unlinks the repository; drop the data too.
			hex=${d#sha256:}
			rm -rf "${DATA[peer]}/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex"
		fi
	done
	# berth's DELETE leaves the file to gc: collect it now, so that both
	# servers' deleted blobs leave the page cache ("Fresh memory" in README.md)
	if [[ $s == berth* && $# -gt 0 ]]; then
		"$BERTH_BIN" gc --grace 0 --no-progress --data "${DATA[$s]}" >"$TMP/gc.out" 2>&1 ||
			log "gc $s: $(tail -n 3 "$TMP/gc.out")"
	fi
}

# Remove every big blob previously pushed to server S.
reset_big() {
	# shellcheck disable=SC2086 # a list of digests
	drop_blobs "$1" ${LAST_BIG[$1]:-}
	LAST_BIG[$1]=
	PULL_DIGEST[$1]=
}

# ---------------------------------------------------------------- nginx, the pull ceiling

# the sides nginx is measured as (one nginx, one port each), once it serves
NGINX_SIDES=()

# start_nginx: one nginx (one worker, access log off, otherwise its defaults)
# serving BIG as /big.blob on two ports, one with sendfile on (nginx-sendfile)
# and one with sendfile off (nginx-copy: read into its buffers, then written)
start_nginx() {
	local dir="$BENCH_DIR/nginx" p1 p2 side i
	command -v nginx >/dev/null ||
		{ log "SKIP nginx pull ceiling: nginx not found (sh scripts/deps.sh bench)"; return 1; }
	p1=$(free_port)
	p2=$(free_port)
	rm -rf "$dir"
	mkdir -p "$dir/tmp"
	{
		# as root the workers would run as nobody, who may not read BENCH_DIR
		[[ $(id -u) == 0 ]] && echo 'user root;'
		cat <<EOF
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    default_type application/octet-stream;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$p1;
        root $BENCH_DIR;
        sendfile on;
        location = /big.blob { }
        location / { return 404; }
    }
    server {
        listen 127.0.0.1:$p2;
        root $BENCH_DIR;
        sendfile off;
        location = /big.blob { }
        location / { return 404; }
    }
}
EOF
	} >"$dir/nginx.conf"
	nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' >"$BENCH_DIR/nginx.log" 2>&1 &
	PID[nginx]=$!
	BASE[nginx-sendfile]="http://127.0.0.1:$p1"
	BASE[nginx-copy]="http://127.0.0.1:$p2"
	for side in nginx-sendfile nginx-copy; do
		# server_ticks counts the master and its worker
		PID[$side]=${PID[nginx]}
		for ((i = 0; i < 50; i++)); do
			[[ $(curl -s -o /dev/null -w '%{http_code}' -I "${BASE[$side]}/big.blob") == 200 ]] && break
			sleep 0.1
		done
		if ((i == 50)); then
			log "SKIP nginx pull ceiling: $side does not serve ${BASE[$side]}/big.blob (log: $dir/error.log)"
			stop_server nginx
			NGINX_SIDES=()
			return 1
		fi
		NGINX_SIDES+=("$side")
	done
	log "nginx: pid ${PID[nginx]}, sendfile on ${BASE[nginx-sendfile]}, off ${BASE[nginx-copy]}; $(nginx -v 2>&1)"
}

# ---------------------------------------------------------------- the push floor

# the side the floor is measured as, once it listens
FLOOR_SIDES=()

# start_floor: bench/floor.py, the least a server must do to store a pushed
# blob (recv into 1 MiB, SHA-256, write, fsync, rename), as the side "floor"
start_floor() {
	local port i
	port=$(free_port)
	python3 "$HERE/floor.py" "$port" "$BENCH_DIR/floor" >"$BENCH_DIR/floor.log" 2>&1 &
	PID[floor]=$!
	BASE[floor]="http://127.0.0.1:$port"
	for ((i = 0; i < 50; i++)); do
		[[ $(curl -s -o /dev/null -w '%{http_code}' "${BASE[floor]}/") == 400 ]] && break
		sleep 0.1
	done
	if ((i == 50)); then
		log "SKIP push floor: bench/floor.py does not answer (log: $BENCH_DIR/floor.log)"
		return 1
	fi
	FLOOR_SIDES=(floor)
	log "floor: pid ${PID[floor]} on ${BASE[floor]}"
}

# floor_push RUN: the big blob as one PUT to the floor, as phase_push times a
# registry's PUT; the digest it answers must be the blob's
floor_push() {
	local r=$1 c0 c1 out code secs got
	# the previous push's file goes first, as reset_big deletes a registry's
	rm -f "$BENCH_DIR/floor"/*
	fresh_big
	sync
	c0=$(server_ticks floor)
	out=$(curl -sS --max-time 900 -o /dev/null -D "$TMP/floor-headers" -w '%{http_code} %{time_total}' \
		-T "$BIG" -H 'Expect:' "${BASE[floor]}/big") || { log "push floor: PUT failed"; return 1; }
	c1=$(server_ticks floor)
	read -r code secs <<<"$out"
	got=$(tr -d '\r' <"$TMP/floor-headers" | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }')
	[[ $code == 201 && $got == "$CUR_DIGEST" ]] ||
		{ log "push floor: answered $code with digest '$got', not $CUR_DIGEST"; return 1; }
	record_push floor "$r" "$secs" "$c0" "$c1"
}

# push_side SIDE RUN: the push phase of a registry, or of the floor
push_side() {
	if [[ $1 == floor ]]; then
		floor_push "$2"
	else
		phase_push "$1" "$2"
	fi
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
	local s=$1 r=$2 murl ah tok rt
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
	# token issue: what a client's every pull or push begins with once logged in, the refresh
	# token grant (no password hash on this path)
	rt=$(curl -sS -u "$AUTH_USER:${BASIC_PASS[$s]}" \
		--data-urlencode grant_type=password --data-urlencode service=default.localhost \
		--data-urlencode access_type=offline --data-urlencode "username=$AUTH_USER" \
		--data-urlencode "password=${BASIC_PASS[$s]}" "${BASE[$s]}/oauth2/token" | jq -r '.refresh_token // empty')
	[[ -n $rt ]] || { log "auth $s: no refresh token from /oauth2/token"; return 1; }
	printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\nwrk.body = "%s"\n' \
		"grant_type=refresh_token&service=default.localhost&scope=repository:$REPO_IMG:pull&refresh_token=$rt" \
		>"$BENCH_DIR/token.lua"
	wrk_one "$s" "$r" token_refresh "POST /oauth2/token refresh" "${BASE[$s]}/oauth2/token" -s "$BENCH_DIR/token.lua"
}

# seed_scale SERVER LEVEL(lo|hi): at lo the one-tag repository REPO_ONE and
# SCALE_LO repositories and tags, at hi REPOS_HI repositories and TAGS_HI
# tags (the repositories first: on docker-registry they take far less time).
# The making on one server (SEED_SECS, both levels) may take FILL_LIMIT
# seconds in all; a kind not made by then is marked in SKIP_KIND and measured
# no more on that server. The answer is 1 when nothing is left to measure.
declare -A SEED_SECS=() SKIP_KIND=()
seed_scale() {
	local s=$1 lv=$2 kind n left t0 rc
	if [[ $lv == lo ]]; then
		if ! python3 "$CLIENT" image "${BASE[$s]}" "$REPO_ONE" "$(tag_name 0)" >/dev/null; then
			log "SKIP scale $s: could not push the image of $REPO_ONE"
			return 1
		fi
	fi
	for kind in repos tags; do
		[[ -z ${SKIP_KIND[$s:$kind]:-} ]] || continue
		n=$SCALE_LO
		[[ $lv == hi && $kind == tags ]] && n=$TAGS_HI
		[[ $lv == hi && $kind == repos ]] && n=$REPOS_HI
		left=$((FILL_LIMIT - ${SEED_SECS[$s]:-0}))
		t0=$SECONDS
		rc=1
		((left > 0)) && fill "$kind" "$s" "$n" "$lv" "$left" && rc=0
		SEED_SECS[$s]=$((${SEED_SECS[$s]:-0} + SECONDS - t0))
		if ((rc)); then
			log "SKIP scale $s: $n $kind not made within ${FILL_LIMIT}s (-L); no figures of $s at $n $kind"
			SKIP_KIND[$s:$kind]=1
		fi
	done
	[[ -z ${SKIP_KIND[$s:repos]:-} || -z ${SKIP_KIND[$s:tags]:-} ]]
}

# measure_scale SERVER RUN LEVEL: for the tags, HEAD of a manifest by tag (at
# lo in the repository with one tag, at hi in the middle of the big one) and
# the tag list's first page and a page from the middle (last=); for the
# repositories, HEAD of a manifest in a one-tag repository among many and the
# catalog's first page
measure_scale() {
	local s=$1 r=$2 lv=$3 nt=${COUNT[tags:$1]:-} nr=${COUNT[repos:$1]:-} v2="${BASE[$1]}/v2" mid url one=1
	if [[ -z ${SKIP_KIND[$s:tags]:-} ]]; then
		mid=$(tag_name $((nt / 2)))
		url="$v2/$REPO_TAGS/manifests/$mid"
		if [[ $lv == lo ]]; then
			url="$v2/$REPO_ONE/manifests/$(tag_name 0)"
		else
			one=$nt
		fi
		probe_head "$s" "$r" "head_tag_$lv" "HEAD manifest by tag ($one tags)" "$url"
		record "$r" "$s" "tagged_${lv}_count" "$one"
		probe_get "$s" "$r" "tags_first_$lv" "tags/list first ($nt tags)" "$v2/$REPO_TAGS/tags/list?n=100"
		probe_get "$s" "$r" "tags_deep_$lv" "tags/list last=$mid ($nt tags)" "$v2/$REPO_TAGS/tags/list?n=100&last=$mid"
		record "$r" "$s" "tags_${lv}_count" "$nt"
	fi
	if [[ -z ${SKIP_KIND[$s:repos]:-} ]]; then
		url=$(printf '%s/%s/r%07d/manifests/v1' "$v2" "$REPO_PREFIX" 5)
		probe_head "$s" "$r" "head_repo_$lv" "HEAD manifest ${url#*/v2/} ($nr repos)" "$url"
		probe_get "$s" "$r" "catalog_$lv" "_catalog first ($nr repos)" "$v2/_catalog?n=100"
		record "$r" "$s" "repos_${lv}_count" "$nr"
	fi
}

# scale_ok SERVER: it runs and is not left out (bad, in scale_phase)
scale_ok() { [[ -z ${bad[$1]:-} ]] && alive "$1"; }

# The scale phase: make the low counts on every server, measure RUNS times,
# make the high counts, measure again. A server whose making takes too long
# is measured no more at what it could not make.
scale_phase() {
	local lv s r order
	local -A bad=()
	for lv in lo hi; do
		for s in "${ACTIVE[@]}"; do
			scale_ok "$s" || continue
			seed_scale "$s" "$lv" || bad[$s]=1
		done
		# warm-up, not recorded: the first requests after the making pay for cold caches
		for s in "${ACTIVE[@]}"; do
			scale_ok "$s" || continue
			timeout 60 wrk -t2 -c"$CONNS" -d1s -H "Accept: $OCI_MANIFEST" \
				"${BASE[$s]}/v2/$REPO_ONE/manifests/$(tag_name 0)" >/dev/null 2>&1
		done
		for ((r = 1; r <= RUNS; r++)); do
			read -r -a order <<<"$(run_order "$r" "${ACTIVE[@]}")"
			log "scale at the $([[ $lv == lo ]] && echo low || echo high) count, run $r/$RUNS, order: ${order[*]}"
			for s in "${order[@]}"; do
				scale_ok "$s" || continue
				measure_scale "$s" "$r" "$lv"
			done
		done
	done
}

rss_note() {
	local s=$1 what=$2 hwm rss
	hwm=$(status_kb "${PID[$s]}" VmHWM)
	rss=$(status_kb "${PID[$s]}" VmRSS)
	log "$s rss ${what}: VmRSS $(calc "${rss:-0} / 1024" 1) MiB, VmHWM $(calc "${hwm:-0} / 1024" 1) MiB"
}

# ---------------------------------------------------------------- main

log "berth bench: runs=$RUNS phases=$PHASES size=$SIZE_ARG chunk=$CHUNK_ARG small=${SMALL_COUNT}x$SMALL_SIZE_ARG" \
	"conc=${CONC}x$((CONC_SIZE >> 20))M scale=$TAGS_HI/$REPOS_HI duration=${DURATION}s conns=$CONNS"
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

if want pull; then
	start_nginx
fi

if want push; then
	start_floor
fi

want conc && make_conc_blobs

# One unrecorded push per side before the first run: on this VM a push into
# memory untouched for a while costs up to twice the CPU (README, "Fresh
# memory"), and the runs after it reuse the pages its blob frees.
if want push || want chunked || want conc; then
	for s in "${ACTIVE[@]}" "${FLOOR_SIDES[@]}"; do
		push_side "$s" w || true
	done
fi

for ((r = 1; r <= RUNS; r++)); do
	read -r -a order <<<"$(run_order "$r" "${ACTIVE[@]}")"
	read -r -a aorder <<<"$(run_order "$r" "${AUTH_ACTIVE[@]}")"
	all=("${order[@]}" "${aorder[@]}")
	log "run $r/$RUNS, order: ${all[*]}"
	for p in push pull conc chunked small wrk auth; do
		want "$p" || continue
		if [[ $p == auth ]]; then
			list=("${aorder[@]}")
		else
			list=("${order[@]}")
		fi
		# nginx's pulls of the same file: the ceiling
		[[ $p == pull ]] && list+=("${NGINX_SIDES[@]}")
		# the least any server must spend on the same push: the floor
		[[ $p == push ]] && list+=("${FLOOR_SIDES[@]}")
		for s in "${list[@]}"; do
			if [[ $s == nginx-* ]]; then
				timed_get "$s" "$r" pull "${BASE[$s]}/big.blob" || true
				continue
			fi
			if ! alive "$s"; then
				log "$s: server process is gone (log: $BENCH_DIR/$s.log)"
				continue
			fi
			if [[ $p == push ]]; then
				push_side "$s" "$r" || true
			else
				"phase_$p" "$s" "$r" || true
			fi
		done
	done
done

if want scale; then
	scale_phase
fi

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
