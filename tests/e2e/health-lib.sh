# Helpers shared by the tests/e2e/0420-health-*.sh tests of `berth check-health`
# (sourced after lib.sh): a private environment for the client files, a server on
# any address, and checks that run check-health, assert the code of the first
# failed check, run the fix it printed and assert that check-health then passes.

# hc_env: private berth, docker and podman files; $WORK/bin first on PATH. HC_CLIENT (default berth:
# berth's own commands and session) is the client check-health judges; set it to docker, podman or
# skopeo, or to nothing for every installed client.
hc_env() {
    HC_CLIENT=${HC_CLIENT-berth}
    export BERTH_CONFIG_DIR=$WORK/cfg DOCKER_CONFIG=$WORK/docker REGISTRY_AUTH_FILE=$WORK/auth.json
    unset XDG_RUNTIME_DIR XDG_CONFIG_HOME HTTPS_PROXY https_proxy HTTP_PROXY http_proxy ALL_PROXY all_proxy \
        NO_PROXY no_proxy
    mkdir -p "$WORK/bin" "$DOCKER_CONFIG"
    [ -e "$WORK/bin/berth" ] || ln -s "$BERTH_BIN" "$WORK/bin/berth"
    export PATH=$WORK/bin:$PATH
    hc_docker_standin
}

# hc_docker_standin: $WORK/bin/docker, a docker 28.2.2 whose daemon answers, in front of whatever
# docker this machine has, so that the tests do not depend on a daemon (the real one has its own tests).
hc_docker_standin() {
    printf '#!/bin/sh
case "$1" in
--version) echo "Docker version 28.2.2, build e6534b4" ;;
version) echo 28.2.2 ;;
esac
' \
        >"$WORK/bin/docker"
    chmod +x "$WORK/bin/docker"
}

# owner_pw: HC_STDIN holds the owner's password, for -u owner --password-stdin.
owner_pw() {
    printf '%s\n' "$(cat "$DATA/initial-owner-password")" >"$WORK/owner-pw"
    HC_STDIN=$WORK/owner-pw
}

# berth_start_on ADDR [serve flags]: like berth_start, listening on ADDR:<free port> (BERTH_PORT: that port)
# (0.0.0.0 to be reached from 127.0.0.2); URL and HOSTPORT still name 127.0.0.1.
berth_start_on() {
    local addr=$1 i code
    shift
    work_init
    PORT=${BERTH_PORT:-$(free_port)}
    HOSTPORT=127.0.0.1:$PORT
    URL=http://$HOSTPORT
    mkdir -p "$DATA"
    echo "=== berth serve --listen $addr:$PORT --data $DATA $*" >>"$SRV_LOG"
    "$BERTH_BIN" serve --listen "$addr:$PORT" --data "$DATA" "$@" >>"$SRV_LOG" 2>&1 &
    BERTH_PID=$!
    SERVER_PIDS+=("$BERTH_PID")
    for i in $(seq 100); do
        if ! kill -0 "$BERTH_PID" 2>/dev/null; then
            if port_was_taken && [ "${BERTH_START_TRIES:-0}" -lt 3 ]; then
                # a port asked for (BERTH_PORT) was taken meanwhile: a free one instead
                BERTH_PORT= BERTH_START_TRIES=$((${BERTH_START_TRIES:-0} + 1)) berth_start_on "$addr" "$@"
                return
            fi
            bail "berth serve starts on $addr" "the server exited during start-up"
        fi
        code=$(curl -sk -o /dev/null -m 2 -w '%{http_code}' "${SCHEME:-http}://127.0.0.1:$PORT/v2/")
        [ "$code" != 000 ] && return 0
        sleep 0.1
    done
    bail "berth serve starts on $addr" "no answer after 10 s"
}

# owner_session: 'berth auth login' as the owner on $URL (the current session).
owner_session() {
    PW=$(cat "$DATA/initial-owner-password")
    "$BERTH_BIN" auth login --server "${1:-$URL}" ${2:+--ca-file "$2"} -u owner --password-stdin <<<"$PW" \
        >"$WORK/auth.out" 2>&1 || bail "berth auth login as the owner" "$(cat "$WORK/auth.out")"
}

# hc ARGS...: berth check-health --json ARGS (with PATH=$HC_PATH when set); sets HC_OUT, HC_RC, HC_CODE (first failed check's code,
# or the first warning's when none failed), HC_FIX and HC_MSG.
hc() {
    HC_OUT=$(env ${HC_PATH:+PATH="$HC_PATH"} "$BERTH_BIN" check-health --json ${HC_CLIENT:+--client "$HC_CLIENT"} "$@" 2>"$WORK/hc.err" \
        <"${HC_STDIN:-/dev/null}")
    HC_RC=$?
    if grep -Eq 'ERROR: [A-Za-z]+Sanitizer|runtime error:' "$WORK/hc.err"; then
        fail "check-health runs clean under the sanitizers" "$(grep -Em 3 'Sanitizer|runtime error' "$WORK/hc.err")"
    fi
    HC_CODE=$(jq -r '([.checks[] | select(.status == "ERROR")] + [.checks[] | select(.status == "WARNING")])[0].code // empty' \
        <<<"$HC_OUT" 2>/dev/null)
    HC_FIX=$(jq -r '([.checks[] | select(.status == "ERROR")] + [.checks[] | select(.status == "WARNING")])[0].fix // empty' \
        <<<"$HC_OUT" 2>/dev/null)
    HC_MSG=$(jq -r '([.checks[] | select(.status == "ERROR")] + [.checks[] | select(.status == "WARNING")])[0].message // empty' \
        <<<"$HC_OUT" 2>/dev/null)
}

# expect_hc CODE DESC ARGS...: check-health fails (exit 1) with CODE as its first error.
expect_hc() { hc_expect 1 "" "$@"; }
# expect_hc_warn CODE DESC ARGS...: check-health passes (exit 0) with the warning CODE.
expect_hc_warn() { hc_expect 0 " (a warning, exit 0)" "$@"; }

# hc_expect RC SUFFIX CODE DESC ARGS...: check-health exits RC and its first finding is CODE.
hc_expect() {
    local rc=$1 suffix=$2 code=$3 desc=$4
    shift 4
    hc "$@"
    if [ "$HC_RC" = "$rc" ] && [ "$HC_CODE" = "$code" ]; then
        ok "$desc: $code$suffix"
    else
        fail "$desc: $code$suffix" "exit $HC_RC, first finding ${HC_CODE:-<none>}: $HC_MSG" "$(cat "$WORK/hc.err")" \
            "$(jq -c '[.checks[] | select(.status != "OK")]' <<<"$HC_OUT" 2>/dev/null)"
    fi
}

# expect_hc_pass DESC ARGS...: every check passes (exit 0, ok true, no warning unless HC_WARN_OK=1).
expect_hc_pass() {
    local desc=$1
    shift
    hc "$@"
    if [ "$HC_RC" = 0 ] && [ "$(jq -r .ok <<<"$HC_OUT")" = true ] && { [ -z "$HC_CODE" ] || [ "${HC_WARN_OK:-0}" = 1 ]; }; then
        ok "$desc"
    else
        fail "$desc" "exit $HC_RC, first finding ${HC_CODE:-<none>}: $HC_MSG" "fix: $HC_FIX" "$(cat "$WORK/hc.err")"
    fi
}

# run_fix [STDIN]: runs the fix check-health printed, as printed (eval), optionally with STDIN; its
# output in FIX_OUT.
run_fix() {
    local out rc
    if [ -z "$HC_FIX" ]; then
        fail "check-health printed a fix to run" "none for $HC_CODE"
        return 1
    fi
    echo "# fix: $HC_FIX"
    if [ $# -gt 0 ]; then
        out=$(eval "$HC_FIX" 2>&1 <<<"$1")
    else
        out=$(eval "$HC_FIX" 2>&1 </dev/null)
    fi
    rc=$?
    FIX_OUT=$out
    if [ "$rc" = 0 ]; then
        ok "the fix for $HC_CODE runs: $HC_FIX"
    else
        fail "the fix for $HC_CODE runs: $HC_FIX" "exit $rc: $out"
    fi
}

# expect_fix_re RE: the printed fix matches RE.
expect_fix_re() {
    expect_match "  ... the fix for $HC_CODE is the command expected" "$1" "$HC_FIX"
}

# jqq FILTER [FILE]: jq -e with the result dropped, for checks.
jqq() { jq -e "$@" >/dev/null; }
