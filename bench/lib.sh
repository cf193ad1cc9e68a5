# Shared pieces of the benchmark scripts (bench/run.sh, bench/s3.sh): logging
# and raw figures, CPU and memory of the servers, the big blob, the push,
# pull, chunked and small phases, the filling of many tags and repositories,
# and the wrk/ab measurements that both take. Sourced, never run.
#
# The caller defines, before calling anything here: LOG and RES (log and raw
# figures), BIG, SIZE, SIZE_ARG, CHUNK, SMALL_COUNT, SMALL_SIZE,
# SMALL_SIZE_ARG, DURATION, CONNS, TMP, CLIENT, CLK_TCK, REPO_BIG, REPO_SMALL,
# OCI_MANIFEST, the associative arrays PID, BASE, LAST_BIG and PULL_DIGEST
# (keyed by server), and reset_big SERVER (drop the big blobs pushed so far);
# for fill also REPO_TAGS, REPO_PREFIX and FILL_CONNS.
# A phase's SERVER names what its figures are recorded under; server_ticks
# SERVER (below) may be redefined when that is more than one process.

die() { echo "${0##*/}: $*" >&2; exit 2; }

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

# check_args: the options both scripts share. Sets SIZE, CHUNK and SMALL_SIZE
# from SIZE_ARG, CHUNK_ARG and SMALL_SIZE_ARG, checks RUNS, SMALL_COUNT,
# DURATION and CONNS, turns PHASES (of ALL_PHASES) into WANT for want(), and
# checks that the common tools are there.
declare -A WANT=()
check_args() {
	local p _ph tool
	SIZE=$(to_bytes "$SIZE_ARG")
	CHUNK=$(to_bytes "$CHUNK_ARG")
	SMALL_SIZE=$(to_bytes "$SMALL_SIZE_ARG")
	[[ $RUNS =~ ^[1-9][0-9]*$ ]] || die "bad -n: $RUNS"
	[[ $SMALL_COUNT =~ ^[1-9][0-9]*$ ]] || die "bad -k: $SMALL_COUNT"
	[[ $DURATION =~ ^[1-9][0-9]*$ ]] || die "bad -d: $DURATION"
	[[ $CONNS =~ ^[1-9][0-9]*$ ]] || die "bad -C: $CONNS"
	((SIZE > 0 && CHUNK > 0 && SMALL_SIZE > 0)) || die "sizes must be positive"

	IFS=, read -r -a _ph <<<"$PHASES"
	for p in "${_ph[@]}"; do
		[[ " $ALL_PHASES " == *" $p "* ]] || die "unknown phase: $p (known: $ALL_PHASES)"
		WANT[$p]=1
	done

	for tool in curl python3 openssl jq; do
		command -v "$tool" >/dev/null || die "$tool is required"
	done
}
want() { [[ -n ${WANT[$1]:-} ]]; }

# open_bench_dir: makes BENCH_DIR absolute and sets this invocation's LOG,
# RES (both stamped), BIG, TMP and CLK_TCK
open_bench_dir() {
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
}

# ---------------------------------------------------------------- helpers

log() {
	local la
	la=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)
	printf '%s load %s | %s\n' "$(date +%H:%M:%S)" "$la" "$*" | tee -a "$LOG"
}

# record RUN SERVER KEY VALUE: one line of the results; the warm-up run (w)
# is logged but not recorded
record() {
	[[ $1 == w ]] && return 0
	printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RES"
}

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

# server_ticks SIDE: CPU ticks of what serves SIDE (a script whose side is more
# than one process defines its own after sourcing this file)
server_ticks() { cpu_ticks "${PID[$1]}"; }

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

# kill_wait PID TENTHS: SIGTERM, and SIGKILL if PID still runs TENTHS/10 s later
kill_wait() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < $2; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
}

stop_server() {
	local s=$1 pid=${PID[$1]:-}
	[[ -n $pid ]] || return 0
	kill_wait "$pid" 50
	wait "$pid" 2>/dev/null
	PID[$s]=
}

alive() { kill -0 "${PID[$1]}" 2>/dev/null; }

# peer_config FILE PORT STORAGE [EXTRA]: docker-registry's configuration: quiet
# logging, no access log, delete enabled, the in-memory blob descriptor cache,
# the storage driver block STORAGE (indented under storage:), on 127.0.0.1:PORT,
# and EXTRA (top-level YAML, e.g. auth) at the end
peer_config() {
	cat >"$1" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
$3
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$2
${4:-}
EOF
}

# ---------------------------------------------------------------- blob content

CUR_DIGEST=

make_big() {
	if [[ -f $BIG && $(stat -c %s "$BIG") == "$SIZE" ]]; then
		return
	fi
	log "writing $SIZE_ARG of random data to $BIG"
	openssl rand -out "$BIG" "$SIZE" || die "cannot write $BIG"
}

# fresh_file FILE: new random first bytes, a new digest (in CUR_DIGEST)
# without rewriting the whole file, so every push stores bytes the server has
# never seen.
fresh_file() {
	head -c 32 /dev/urandom | dd of="$1" bs=32 count=1 conv=notrunc status=none
	CUR_DIGEST="sha256:$(openssl dgst -sha256 -r "$1" | cut -c1-64)"
}

fresh_big() { fresh_file "$BIG"; }

abs_url() {
	local s=$1 loc=$2
	case $loc in
	http://* | https://*) echo "$loc" ;;
	/*) echo "${BASE[$s]}$loc" ;;
	*) echo "${BASE[$s]}/$loc" ;;
	esac
}

# ---------------------------------------------------------------- phases

# push_mono SIDE FILE DIGEST NAME: POST to REPO_BIG, then FILE as one PUT with
# &digest= (curl -T); prints the seconds both took, or on failure what went
# wrong (answer 1). NAME names its files in TMP, so that several can run at
# once.
push_mono() {
	local s=$1 file=$2 d=$3 hdr="$TMP/$4-headers" body="$TMP/$4-body" out code tp tu loc url
	out=$(curl -sS --max-time 900 -D "$hdr" -o /dev/null -w '%{http_code} %{time_total}' \
		-X POST "${BASE[$s]}/v2/$REPO_BIG/blobs/uploads/") || { echo "POST failed"; return 1; }
	read -r code tp <<<"$out"
	[[ $code == 202 ]] || { echo "POST answered $code"; return 1; }
	loc=$(awk 'tolower($1) == "location:" { print $2 }' "$hdr" | tr -d '\r' | tail -1)
	url=$(abs_url "$s" "$loc")
	[[ $url == *\?* ]] && url="$url&digest=$d" || url="$url?digest=$d"
	out=$(curl -sS --max-time 900 -o "$body" -w '%{http_code} %{time_total}' \
		-T "$file" -H 'Content-Type: application/octet-stream' -H 'Expect:' "$url") ||
		{ echo "PUT failed"; return 1; }
	read -r code tu <<<"$out"
	[[ $code == 201 ]] || { echo "PUT answered $code: $(head -c 300 "$body")"; return 1; }
	calc "$tp + $tu" 6
}

phase_push() {
	local s=$1 r=$2 c0 c1 out rc
	reset_big "$s"
	fresh_big
	sync
	c0=$(server_ticks "$s")
	out=$(push_mono "$s" "$BIG" "$CUR_DIGEST" push)
	rc=$?
	c1=$(server_ticks "$s")
	LAST_BIG[$s]="${LAST_BIG[$s]:-} $CUR_DIGEST"
	((rc == 0)) || { log "push $s: $out"; return 1; }
	PULL_DIGEST[$s]=$CUR_DIGEST
	record_push "$s" "$r" "$out" "$c0" "$c1"
}

# record_push SIDE RUN SECONDS TICKS0 TICKS1: a push of the big blob that took
# SECONDS and the side's CPU ticks between the two samples
record_push() {
	local s=$1 r=$2 mbs cpu
	mbs=$(calc "$SIZE / $3 / 1000000" 1)
	cpu=$(cpu_secs "$4" "$5")
	record "$r" "$s" push_mbs "$mbs"
	record "$r" "$s" push_cpu_gib "$(calc "$cpu * 1073741824 / $SIZE" 3)"
	log "run $r push    $s: $mbs MB/s ($(calc "$3" 3)s, server cpu ${cpu}s)"
}

# phase_pull SIDE RUN [KEY [BASE]]: GET the big blob from BASE (default: the
# side's own), following a redirect as clients do; recorded as KEY_mbs and
# KEY_cpu_gib (default KEY: pull). A HEAD answered with 307 (a registry over
# S3 redirects HEAD too) counts as present.
phase_pull() {
	local s=$1 r=$2 key=${3:-pull} base=${4:-${BASE[$1]}} d code
	d=${PULL_DIGEST[$s]:-}
	code=
	[[ -n $d ]] && code=$(curl -s -o /dev/null -w '%{http_code}' -I "${BASE[$s]}/v2/$REPO_BIG/blobs/$d")
	if [[ $code != 200 && $code != 307 ]]; then
		reset_big "$s"
		fresh_big
		python3 "$CLIENT" ensure "${BASE[$s]}" "$REPO_BIG" "$BIG" "$CUR_DIGEST" >/dev/null ||
			{ log "$key $s: could not store the blob to pull"; return 1; }
		LAST_BIG[$s]="${LAST_BIG[$s]:-} $CUR_DIGEST"
		d=$CUR_DIGEST
		PULL_DIGEST[$s]=$d
	fi
	timed_get "$s" "$r" "$key" "$base/v2/$REPO_BIG/blobs/$d"
}

# timed_get SIDE RUN KEY URL: one GET of URL (SIZE bytes) to /dev/null,
# following a redirect, between two samples of SIDE's CPU; recorded as KEY_mbs
# and KEY_cpu_gib
timed_get() {
	local s=$1 r=$2 key=$3 c0 c1 out code got secs mbs cpu
	c0=$(server_ticks "$s")
	out=$(curl -sS --max-time 900 -L -o /dev/null -w '%{http_code} %{size_download} %{time_total}' "$4") ||
		{ log "$key $s: GET failed"; return 1; }
	c1=$(server_ticks "$s")
	read -r code got secs <<<"$out"
	[[ $code == 200 && $got == "$SIZE" ]] || { log "$key $s: answered $code with $got bytes"; return 1; }
	mbs=$(calc "$SIZE / $secs / 1000000" 1)
	cpu=$(cpu_secs "$c0" "$c1")
	record "$r" "$s" "${key}_mbs" "$mbs"
	record "$r" "$s" "${key}_cpu_gib" "$(calc "$cpu * 1073741824 / $SIZE" 3)"
	log "run $r $(printf '%-7s' "$key") $s: $mbs MB/s (${secs}s, server cpu ${cpu}s)"
}

# set_conc_size: checks CONC (-j); each blob of the conc phase is SIZE / CONC,
# at least 16 MiB
set_conc_size() {
	[[ $CONC =~ ^[1-9][0-9]*$ ]] || die "bad -j: $CONC"
	CONC_SIZE=$((SIZE / CONC))
	((CONC_SIZE >= 16 << 20)) || CONC_SIZE=$((16 << 20))
}

# make_conc_blobs: the CONC random files of the conc phase (kept if present)
make_conc_blobs() {
	local i f
	for ((i = 0; i < CONC; i++)); do
		f="$BENCH_DIR/conc-$i.blob"
		[[ -f $f && $(stat -c %s "$f") == "$CONC_SIZE" ]] && continue
		openssl rand -out "$f" "$CONC_SIZE" || die "cannot write $f"
	done
}

# phase_conc SERVER RUN: CONC clients at once push a blob of CONC_SIZE each
# (push_mono: POST, then one PUT), then pull them at once (following a
# redirect); the aggregate MB/s is all the bytes over the time from the first
# start to the last end. The script's drop_blobs SERVER DIGEST... removes
# them afterwards.
phase_conc() {
	local s=$1 r=$2 i c0 c1 t0 t1 bad=0 out code got digests=() pids=()
	for ((i = 0; i < CONC; i++)); do
		fresh_file "$BENCH_DIR/conc-$i.blob"
		digests+=("$CUR_DIGEST")
	done
	sync
	c0=$(server_ticks "$s")
	t0=$(date +%s.%N)
	for ((i = 0; i < CONC; i++)); do
		push_mono "$s" "$BENCH_DIR/conc-$i.blob" "${digests[i]}" "conc-$i" >"$TMP/conc-$i.out" &
		pids+=($!)
	done
	for ((i = 0; i < CONC; i++)); do
		wait "${pids[i]}" || { bad=1; log "conc push $s: client $i: $(cat "$TMP/conc-$i.out")"; }
	done
	t1=$(date +%s.%N)
	c1=$(server_ticks "$s")
	if ((bad == 0)); then
		conc_record "$s" "$r" push "$c0" "$c1" "$t0" "$t1"
		pids=()
		c0=$(server_ticks "$s")
		t0=$(date +%s.%N)
		for ((i = 0; i < CONC; i++)); do
			curl -sS --max-time 900 -L -o /dev/null -w '%{http_code} %{size_download}' \
				"${BASE[$s]}/v2/$REPO_BIG/blobs/${digests[i]}" >"$TMP/conc-$i.out" 2>&1 &
			pids+=($!)
		done
		for ((i = 0; i < CONC; i++)); do
			wait "${pids[i]}"
			out=$(cat "$TMP/conc-$i.out")
			read -r code got <<<"$out"
			[[ $code == 200 && $got == "$CONC_SIZE" ]] || { bad=1; log "conc pull $s: client $i: $out"; }
		done
		t1=$(date +%s.%N)
		c1=$(server_ticks "$s")
		((bad == 0)) && conc_record "$s" "$r" pull "$c0" "$c1" "$t0" "$t1"
	fi
	drop_blobs "$s" "${digests[@]}"
	return $bad
}

# conc_record SERVER RUN WHAT(push|pull) TICKS0 TICKS1 T0 T1
conc_record() {
	local s=$1 r=$2 what=$3 total=$((CONC * CONC_SIZE)) mbs cpu
	mbs=$(calc "$total / ($7 - $6) / 1000000" 1)
	cpu=$(cpu_secs "$4" "$5")
	record "$r" "$s" "conc_${what}_mbs" "$mbs"
	record "$r" "$s" "conc_${what}_cpu_gib" "$(calc "$cpu * 1073741824 / $total" 3)"
	log "run $r conc $what $s: $mbs MB/s ($CONC x $((CONC_SIZE >> 20)) MiB in $(calc "$7 - $6" 3)s, server cpu ${cpu}s)"
}

# ---------------------------------------------------------------- metadata at scale

# fill KIND(tags|repos) SIDE COUNT LEVEL [SECONDS]: grow the tags of REPO_TAGS,
# or the repositories under REPO_PREFIX, on SIDE to COUNT (client.py on
# FILL_CONNS connections); COUNT[KIND:SIDE] is how many SIDE holds. With
# SECONDS the client stops making more after that long; if it had to, the
# answer is 1 and the count is left unknown.
declare -A COUNT=()
fill() {
	local kind=$1 s=$2 want=$3 lv=$4 have=${COUNT[$1:$2]:-0} where out secs n retries
	((want > have)) || return 0
	where=$REPO_TAGS
	[[ $kind == repos ]] && where=$REPO_PREFIX
	out=$(python3 "$CLIENT" "$kind" "${BASE[$s]}" "$where" "$have" $((want - have)) "$FILL_CONNS" ${5:+"$5"}) ||
		{ log "$kind $s: could not grow $where from $have to $want $kind"; return 1; }
	secs=$(jq -r .seconds <<<"$out")
	n=$(jq -r .count <<<"$out")
	retries=$(jq -r .retries <<<"$out")
	if [[ $(jq -r .complete <<<"$out") != true ]]; then
		COUNT[$kind:$s]=
		log "$kind $s: stopped after $(calc "$secs" 0)s with $n more $kind made in $where, not the $((want - have)) wanted"
		return 1
	fi
	COUNT[$kind:$s]=$want
	record 0 "$s" "${kind}_fill_${lv}_ps" "$(calc "$n / $secs" 1)"
	record 0 "$s" "${kind}_fill_${lv}_retries" "$retries"
	log "$kind $s: $where now holds $want $kind ($n made in $(calc "$secs" 1)s," \
		"$(calc "$n / $secs" 0)/s on $FILL_CONNS connections, $retries retried after a 5xx)"
}

tag_name() { printf 't%07d' "$1"; }

# seq_probe SIDE RUN KEY URL [curl args]: the median time of three requests
# sent one after another (no concurrency: what one request costs), as
# KEY_seq_ms. wrk's rate alone says nothing when no request ends within -d.
seq_probe() {
	local s=$1 r=$2 key=$3 url=$4 i out code secs times=()
	shift 4
	for i in 1 2 3; do
		out=$(curl -s -o /dev/null --max-time 120 -w '%{http_code} %{time_total}' "$@" "$url")
		read -r code secs <<<"$out"
		[[ $code == 200 ]] || { log "$key $s: one request answered $code"; return 1; }
		times+=("$secs")
	done
	secs=$(printf '%s\n' "${times[@]}" | sort -g | sed -n 2p)
	record "$r" "$s" "${key}_seq_ms" "$(calc "$secs * 1000" 3)"
}

# probe_get SIDE RUN KEY LABEL URL [wrk args]: the time of one GET alone
# (seq_probe) and the rate under wrk
probe_get() {
	seq_probe "$1" "$2" "$3" "$5"
	wrk_one "$@" --timeout 30s
}

# probe_head SIDE RUN KEY LABEL URL [ab args]: the same for HEAD, under ab
probe_head() {
	seq_probe "$1" "$2" "$3" "$5" -I -H "Accept: $OCI_MANIFEST"
	ab_head "$@"
}

# ---------------------------------------------------------------- client phases

# timed_client SERVER SUBCOMMAND ARGS...: bench/client.py between two samples
# of the server's CPU; sets OUT (the client's JSON) and CPU (server seconds),
# and fails when the client does
timed_client() {
	local s=$1 c0 c1 rc
	shift
	c0=$(server_ticks "$s")
	OUT=$(python3 "$CLIENT" "$@")
	rc=$?
	c1=$(server_ticks "$s")
	CPU=$(cpu_secs "$c0" "$c1")
	return $rc
}

phase_chunked() {
	local s=$1 r=$2 rc secs patches mbs cpu
	reset_big "$s"
	fresh_big
	sync
	timed_client "$s" chunked "${BASE[$s]}" "$REPO_BIG" "$BIG" "$CUR_DIGEST" "$CHUNK"
	rc=$?
	LAST_BIG[$s]="${LAST_BIG[$s]:-} $CUR_DIGEST"
	((rc == 0)) || { log "chunked $s: client failed"; return 1; }
	PULL_DIGEST[$s]=$CUR_DIGEST
	secs=$(jq -r .seconds <<<"$OUT")
	patches=$(jq -r .patches <<<"$OUT")
	mbs=$(calc "$SIZE / $secs / 1000000" 1)
	cpu=$CPU
	record "$r" "$s" chunked_mbs "$mbs"
	record "$r" "$s" chunked_cpu_gib "$(calc "$cpu * 1073741824 / $SIZE" 3)"
	log "run $r chunked $s: $mbs MB/s ($(calc "$secs" 3)s, $patches PATCH, server cpu ${cpu}s)"
}

phase_small() {
	local s=$1 r=$2 secs mode pps cpu
	timed_client "$s" small "${BASE[$s]}" "$REPO_SMALL" "$SMALL_COUNT" "$SMALL_SIZE" ||
		{ log "small $s: client failed"; return 1; }
	secs=$(jq -r .seconds <<<"$OUT")
	mode=$(jq -r .mode <<<"$OUT")
	pps=$(calc "$SMALL_COUNT / $secs" 1)
	cpu=$CPU
	record "$r" "$s" small_ps "$pps"
	record "$r" "$s" small_cpu_us "$(calc "$cpu * 1000000 / $SMALL_COUNT" 0)"
	log "run $r small   $s: $pps pushes/s ($SMALL_COUNT x $SMALL_SIZE_ARG in $(calc "$secs" 3)s, $mode, server cpu ${cpu}s)"
}

# to_ms VALUE: a wrk latency (635.91us, 2.03ms, 1.20s) in milliseconds
to_ms() {
	case $1 in
	*us) calc "${1%us} / 1000" 3 ;;
	*ms) calc "${1%ms}" 3 ;;
	*s) calc "${1%s} * 1000" 3 ;;
	*) echo "$1" ;;
	esac
}

# record_latency RUN SERVER KEY P50 P99: the percentiles in ms, when the caller
# set LATENCY=1 (wrk then runs with --latency)
record_latency() {
	[[ ${LATENCY:-0} == 1 && -n $4 && -n $5 ]] || return 0
	record "$1" "$2" "${3}_p50_ms" "$4"
	record "$1" "$2" "${3}_p99_ms" "$5"
}

# wrk_one INSTANCE RUN KEY LABEL URL [wrk args]
wrk_one() {
	local s=$1 r=$2 key=$3 label=$4 url=$5 c0 c1 out rps n bad errs cpu lat=()
	shift 5
	[[ ${LATENCY:-0} == 1 ]] && lat=(--latency)
	c0=$(server_ticks "$s")
	out=$(timeout $((DURATION + 60)) wrk -t2 -c"$CONNS" -d"${DURATION}s" "${lat[@]}" "$@" "$url" 2>&1)
	c1=$(server_ticks "$s")
	rps=$(awk '/^Requests\/sec:/ { print $2 }' <<<"$out")
	n=$(awk '/ requests in / { print $1 }' <<<"$out")
	bad=$(awk -F: '/Non-2xx or 3xx responses/ { gsub(/ /, "", $2); print $2 }' <<<"$out")
	[[ -n $rps && -n $n ]] || { log "$label $s: wrk failed: $(tail -3 <<<"$out" | tr '\n' ' ')"; return 1; }
	[[ $n != 0 ]] || { log "$label $s: no request completed in ${DURATION}s"; return 1; }
	cpu=$(cpu_secs "$c0" "$c1")
	if [[ -n $bad && $bad != 0 ]]; then
		log "$label $s: $bad non-2xx answers, figure discarded"
		return 1
	fi
	record "$r" "${s%-auth}" "${key}_rps" "$rps"
	record "$r" "${s%-auth}" "${key}_cpu_us" "$(calc "$cpu * 1000000 / $n" 1)"
	record_latency "$r" "${s%-auth}" "$key" "$(to_ms "$(awk '$1 == "50%" { print $2 }' <<<"$out")")" \
		"$(to_ms "$(awk '$1 == "99%" { print $2 }' <<<"$out")")"
	errs=$(grep -m1 'Socket errors' <<<"$out" | sed 's/^ *//')
	log "run $r $label $s: $rps req/s ($n requests, ${errs:+$errs, }server cpu ${cpu}s)"
}

# ab_head INSTANCE RUN KEY LABEL URL [ab args]
ab_head() {
	local s=$1 r=$2 key=$3 label=$4 url=$5 c0 c1 out rps n failed bad ka cpu
	shift 5
	c0=$(server_ticks "$s")
	out=$(timeout $((DURATION + 60)) ab -r -k -i -c "$CONNS" -t "$DURATION" -n 2000000 \
		-H "Accept: $OCI_MANIFEST" "$@" "$url" 2>&1)
	c1=$(server_ticks "$s")
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
	record_latency "$r" "${s%-auth}" "$key" "$(awk '$1 == "50%" { print $2 }' <<<"$out")" \
		"$(awk '$1 == "99%" { print $2 }' <<<"$out")"
	log "run $r $label $s: $rps req/s ($n requests, ${ka:-0} kept alive, ${failed:-0} failed, server cpu ${cpu}s)"
}

# run_order RUN INSTANCE...: the instances, rotated by one place each run
# (with two: reversed in even runs), so that slow drift hits every one
run_order() {
	local r=$1 n i out=()
	shift
	n=$#
	local list=("$@")
	for ((i = 0; i < n; i++)); do
		out+=("${list[(i + r - 1) % n]}")
	done
	echo "${out[*]}"
}
