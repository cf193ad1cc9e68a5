#!/usr/bin/env bash
# `make install` into a DESTDIR: the binary and the credential helper's link,
# man pages and bash completion generated from the binary's own help, and a
# systemd unit that systemd-analyze accepts; `make uninstall` takes it all
# back. And serve's side of the unit (Type=notify): READY=1 once it listens,
# WATCHDOG=1 within WatchdogSec, RELOADING=1 and READY=1 around a SIGHUP,
# STOPPING=1 on SIGTERM, over a NOTIFY_SOCKET this test listens on.
. "$(dirname "$0")/lib.sh"
work_init
ROOT=$WORK/root
# the tree installed is build/berth's (make install installs the release build)
if ! make -s -C "$REPO" install DESTDIR="$ROOT" PREFIX=/usr DISTDIR="$WORK/dist" >"$WORK/install.out" 2>&1; then
    bail "make install DESTDIR=... PREFIX=/usr" "$(tail -n 20 "$WORK/install.out")"
fi
ok "make install DESTDIR=... PREFIX=/usr"
check "berth is installed, executable, and runs" sh -c '"$1/usr/bin/berth" version | grep -q "^berth "' _ "$ROOT"
check "docker-credential-berth is a link to it" test "$(readlink "$ROOT/usr/bin/docker-credential-berth")" = berth
check "the credential helper answers through the link" \
    sh -c 'HOME=$2 BERTH_CONFIG_DIR=$2/cfg "$1/usr/bin/docker-credential-berth" list </dev/null | grep -q "^{"' \
    _ "$ROOT" "$WORK"

# ---- man pages: one per command, the settings in berth.conf(5), all clean roff
M=$ROOT/usr/share/man
for page in man1/berth.1 man1/berth-serve.1 man1/berth-registry.1 man1/berth-check-health.1 man5/berth.conf.5; do
    check "man page $page is there" test -s "$M/$page"
done
n_cmd=$("$ROOT/usr/bin/berth" --help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { n++ } END { print n }')
n_man=$(find "$M/man1" -name 'berth-*.1' | wc -l)
check "a man page for each of the $n_cmd commands ($n_man)" test "$n_cmd" = "$n_man"
warn=$(for f in "$M"/man1/*.1 "$M"/man5/*.5; do groff -man -Tutf8 -ww -z "$f" 2>&1; done)
check "groff renders every page without a warning" test -z "$warn"
check "berth-serve(1) documents --listen" sh -c 'MANWIDTH=120 man -l "$1" 2>/dev/null | grep -q -- "--listen"' _ \
    "$M/man1/berth-serve.1"
check "berth-registry(1) has a section for each verb (CREATE)" sh -c 'man -l "$1" 2>/dev/null | grep -q "^CREATE"' _ \
    "$M/man1/berth-registry.1"
check "berth.conf(5) lists the settings with their defaults" \
    sh -c 'man -l "$1" 2>/dev/null | grep -q -- "--gc-interval"' _ "$M/man5/berth.conf.5"

# ---- bash completion
C=$ROOT/usr/share/bash-completion/completions/berth
complete_words() { # complete_words WORD...: what completing the last word offers
    bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _berth; echo "${COMPREPLY[*]}"' _ "$C" "$@"
}
check "completion offers the commands" test "$(complete_words berth reg)" = registry
check "a command's verbs" test "$(complete_words berth repository show-m)" = show-manifests
check "a verb's options" test "$(complete_words berth registry create --admin)" = --admin-enabled
check "a command's options" test "$(complete_words berth gc --dry)" = --dry-run
check "zsh completion is there" test -s "$ROOT/usr/share/zsh/site-functions/_berth"

# ---- the systemd unit
U=$ROOT/usr/lib/systemd/system/berth.service
check "the unit runs the installed binary, notifies, reloads with SIGHUP, has a watchdog" \
    sh -c 'grep -q "^ExecStart=/usr/bin/berth serve" "$1" && grep -q "^Type=notify" "$1" &&
        grep -q "^ExecReload=/bin/kill -HUP" "$1" && grep -q "^WatchdogSec=" "$1"' _ "$U"
check "and runs as its own user with its data alone writable" \
    sh -c 'grep -q "^DynamicUser=yes" "$1" && grep -q "^StateDirectory=berth" "$1" &&
        grep -q "^ProtectSystem=strict" "$1" && grep -q "^NoNewPrivileges=yes" "$1"' _ "$U"
if command -v systemd-analyze >/dev/null 2>&1; then
    mkdir -p "$WORK/unit"
    sed "s|/usr/bin/berth|$ROOT/usr/bin/berth|" "$U" >"$WORK/unit/berth.service"
    if MANPATH=$M systemd-analyze verify "$WORK/unit/berth.service" >"$WORK/verify.out" 2>&1 &&
        ! grep -q . "$WORK/verify.out"; then
        ok "systemd-analyze verify accepts the unit"
    else
        fail "systemd-analyze verify accepts the unit" "$(cat "$WORK/verify.out")"
    fi
else
    skip "systemd-analyze is not installed (scripts/deps.sh test installs systemd)"
fi

# ---- serve's notifications, as systemd would receive them
NS=$WORK/notify.sock
python3 - "$NS" >"$WORK/notify.log" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(20)
end = time.time() + 20
while time.time() < end:
    try:
        m = s.recv(4096).decode()
    except socket.timeout:
        break
    for line in m.split("\n"):
        print(line, flush=True)
    if "STOPPING=1" in m:
        break
PY
lpid=$!
for i in $(seq 50); do [ -S "$NS" ] && break; sleep 0.1; done
PORT=$(free_port)
NOTIFY_SOCKET=$NS WATCHDOG_USEC=600000 "$BERTH_BIN" serve --listen "127.0.0.1:$PORT" --data "$WORK/data" \
    >>"$WORK/notify-serve.log" 2>&1 &
spid=$!
SERVER_PIDS+=("$spid")
for i in $(seq 100); do grep -q '^READY=1' "$WORK/notify.log" && break; sleep 0.1; done
check "READY=1 once it serves" grep -q '^READY=1' "$WORK/notify.log"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/v2/")
check "and it answers by then ($code)" test "$code" = 401
sleep 1
check "WATCHDOG=1 within the watchdog's half-time" grep -q '^WATCHDOG=1' "$WORK/notify.log"
kill -HUP "$spid"
sleep 0.5
check "RELOADING=1 and READY=1 again around SIGHUP" \
    sh -c 'grep -n "" "$1" | grep -q "RELOADING=1" && [ "$(grep -c "^READY=1" "$1")" -ge 2 ]' _ "$WORK/notify.log"
kill -TERM "$spid"
wait "$spid"
check "STOPPING=1 on SIGTERM, and a clean exit" sh -c '[ "$2" = 0 ] && grep -q "^STOPPING=1" "$1"' _ \
    "$WORK/notify.log" "$?"
wait "$lpid" 2>/dev/null

# ---- make uninstall
make -s -C "$REPO" uninstall DESTDIR="$ROOT" PREFIX=/usr >"$WORK/uninstall.out" 2>&1
check "make uninstall removes every file it installed" test "$(find "$ROOT" -type f -o -type l | wc -l)" = 0
finish
