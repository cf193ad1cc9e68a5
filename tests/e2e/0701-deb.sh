#!/usr/bin/env bash
# `make deb`: a package lintian finds nothing to warn about, which dpkg installs on this machine for
# real (the binary and its link, man pages, completion, the unit, the copyright file and changelog),
# whose /usr/bin/berth serves, and which dpkg -r and --purge take back to the last file. The machine is
# restored however the test ends; it is left alone (skip) when any file of the package is there already.
. "$(dirname "$0")/lib.sh"
work_init
for t in dpkg-deb dpkg-shlibdeps lintian; do
    if ! command -v "$t" >/dev/null 2>&1; then
        skip "$t is not installed (scripts/deps.sh test installs it)"
        finish
    fi
done

t0=$(date +%s)
if ! make -s -C "$REPO" deb DEB_OUT="$WORK/out" >"$WORK/deb.out" 2>&1; then
    bail "make deb" "$(tail -n 20 "$WORK/deb.out")"
fi
DEB=$(tail -n 1 "$WORK/deb.out")
version=$("$REPO/build/berth" version | sed 's/^berth //')
. "$REPO/dist/package.env"
expect_eq "make deb builds berth_<version>-<revision>_<arch>.deb ($(($(date +%s) - t0)) s)" \
    "$WORK/out/berth_$version-${BERTH_DEB_REVISION}_$(dpkg --print-architecture).deb" "$DEB"
[ -s "$DEB" ] || bail "the package is there"
field() { dpkg-deb -f "$DEB" "$1"; }
expect_eq "its version is the binary's" "$version-$BERTH_DEB_REVISION" "$(field Version)"
expect_match "Depends names the libraries' packages, with versions" '^libc6 \(>= [0-9.]+\), .*libmicrohttpd12.*libsqlite3-0' \
    "$(field Depends)"
# the libraries berth opens with dlopen, which dpkg-shlibdeps does not see (berth doc libraries)
expect_match "Depends names libcurl4 (every client command), with its version" '(^|, )libcurl4 \(>= [0-9.]+\)(,|$)' \
    "$(field Depends)"
expect_match "Recommends names libpq5 (PostgreSQL) and libsystemd0 (the unit), with versions" \
    '^libpq5 \(>= [0-9.~]+\), libsystemd0 \(>= [0-9.~]+\)$' "$(field Recommends)"

# ---- lintian: no error, no warning (info tags are advice, and the overrides say why they are there)
t0=$(date +%s)
lintian --fail-on error,warning --display-info "$DEB" >"$WORK/lintian.out" 2>"$WORK/lintian.err"
rc=$?
tags=$(grep -c '^[EWI]: ' "$WORK/lintian.out")
if [ "$rc" = 0 ] && ! grep -q '^[EW]: ' "$WORK/lintian.out"; then
    ok "lintian: no error or warning ($tags info tags, $(($(date +%s) - t0)) s)"
else
    fail "lintian: no error or warning" "$(grep '^[EW]: ' "$WORK/lintian.out" | head -n 8)" \
        "$(grep -v 'root privileges' "$WORK/lintian.err" | tail -n 3)"
fi
check "the one override is for a first upload closing no ITP bug" test \
    "$(dpkg-deb --fsys-tarfile "$DEB" | tar -xOf - ./usr/share/lintian/overrides/berth | grep -v '^#')" = \
    "berth: initial-upload-closes-no-bugs"

# ---- dpkg -i, unless the machine has any of it already
# one package on the machine at a time: both e2e lanes run this test
exec 9>/tmp/berth-e2e-0701.lock
flock -w 240 9 || bail "wait for the other run of this test to end"
dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ { p = $6; sub(/^\./, "", p); print p }' >"$WORK/files"
if dpkg-query -W -f='${Status}\n' berth 2>/dev/null | grep -qv '^unknown ok not-installed'; then
    skip "a berth package is on this machine already ($(dpkg-query -W -f='${Version} ${Status}' berth)): not touching it"
    finish
fi
while read -r p; do
    if [ -e "$p" ] || [ -L "$p" ]; then
        skip "$p is on this machine already (make install?): not touching it"
        finish
    fi
done <"$WORK/files"

# dpkg_locked CMD...: CMD, tried again while apt or dpkg elsewhere holds dpkg's lock (60 s at most)
dpkg_locked() {
    local _
    for _ in $(seq 60); do
        "$@" >"$WORK/dpkg.out" 2>&1 && return 0
        grep -q 'lock' "$WORK/dpkg.out" || return 1
        sleep 1
    done
    return 1
}
CLEANUP_HOOKS+=('dpkg-query -W -f="\${Status}" berth 2>/dev/null | grep -qv not-installed && dpkg_locked dpkg --purge berth')
if ! dpkg_locked dpkg -i "$DEB"; then
    bail "dpkg -i installs the package" "$(tail -n 8 "$WORK/dpkg.out")"
fi
ok "dpkg -i installs the package"
expect_eq "dpkg has it installed" "install ok installed $version-$BERTH_DEB_REVISION" \
    "$(dpkg-query -W -f='${Status} ${Version}' berth)"
missing=$(while read -r p; do [ -e "$p" ] || echo "$p"; done <"$WORK/files")
check "every file of the package is in place ($(wc -l <"$WORK/files"))" test -z "$missing"
check "dpkg -L lists them" sh -c 'dpkg -L berth | grep -qx /usr/bin/berth && dpkg -L berth | grep -qx /lib/systemd/system/berth.service'
expect_eq "berth --version from /usr/bin" "berth $version" "$(/usr/bin/berth --version 2>&1)"
check "docker-credential-berth is a link to it, and answers" sh -c \
    'test "$(readlink /usr/bin/docker-credential-berth)" = berth &&
     HOME=$1 BERTH_CONFIG_DIR=$1/cfg docker-credential-berth list </dev/null | grep -q "^{"' _ "$WORK"
check "the installed binary is stripped" sh -c '! readelf -S /usr/bin/berth | grep -q "\.debug_info\|\.symtab"'
check "man pages are gzipped where man finds them: berth(1), berth-serve(1), berth.conf(5)" sh -c \
    'test "$(man -w berth)" = /usr/share/man/man1/berth.1.gz &&
     test "$(man -w berth-serve)" = /usr/share/man/man1/berth-serve.1.gz &&
     test "$(man -w 5 berth.conf)" = /usr/share/man/man5/berth.conf.5.gz'
check "docker-credential-berth(1) is berth(1)" test "$(readlink /usr/share/man/man1/docker-credential-berth.1.gz)" = berth.1.gz
check "berth-serve(1) reads" sh -c 'MANWIDTH=120 man berth-serve 2>/dev/null | grep -q -- "--listen"'
check "bash completion where bash-completion loads it" test -s /usr/share/bash-completion/completions/berth
check "zsh completion in Debian's vendor-completions" test -s /usr/share/zsh/vendor-completions/_berth
check "the unit in /lib/systemd/system runs /usr/bin/berth" \
    grep -q '^ExecStart=/usr/bin/berth serve' /lib/systemd/system/berth.service
check "the copyright file and changelog.Debian.gz" sh -c \
    'grep -q "^Upstream-Name: berth" /usr/share/doc/berth/copyright &&
     zcat /usr/share/doc/berth/changelog.Debian.gz | head -n 1 | grep -q "^berth ($1)"' _ "$version-$BERTH_DEB_REVISION"

# ---- the installed berth serves
PORT=$(free_port)
/usr/bin/berth serve --listen "127.0.0.1:$PORT" --data "$WORK/data" >"$SRV_LOG" 2>&1 9>&- &
spid=$!
SERVER_PIDS+=("$spid")
wait_answer "http://127.0.0.1:$PORT" "$spid" "/usr/bin/berth serve"
req GET "http://127.0.0.1:$PORT/v2/"
expect_status 401 "/usr/bin/berth serve answers /v2/ (401: credentials required, as installed)"
expect_header_re WWW-Authenticate '^Bearer realm="http://127.0.0.1:[0-9]+/oauth2/token"' "with its token realm"
check "it wrote the owner's first password" test -s "$WORK/data/initial-owner-password"
kill -TERM "$spid"
wait "$spid"
expect_eq "and stops cleanly on SIGTERM" 0 "$?"

# ---- dpkg -r, then --purge: nothing left
if dpkg_locked dpkg -r berth; then
    ok "dpkg -r removes it"
else
    fail "dpkg -r removes it" "$(tail -n 8 "$WORK/dpkg.out")"
fi
left=$(while read -r p; do if [ -e "$p" ] || [ -L "$p" ]; then echo "$p"; fi; done <"$WORK/files")
check "no file of the package is left" test -z "$left"
if dpkg_locked dpkg --purge berth; then
    ok "dpkg --purge purges it"
else
    fail "dpkg --purge purges it" "$(tail -n 8 "$WORK/dpkg.out")"
fi
check "dpkg knows nothing of it" sh -c '! dpkg-query -W -f="\${Status}\n" berth 2>/dev/null | grep -qv "not-installed"'
check "nor keeps any of its scripts or lists" sh -c '! ls /var/lib/dpkg/info/berth.* 2>/dev/null | grep -q .'
check "and /usr/share/doc/berth is gone" test ! -e /usr/share/doc/berth
finish
