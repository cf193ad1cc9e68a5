#!/bin/sh
# A throwaway PostgreSQL server for the tests: initdb into DIR as the postgres
# user, listening on a unix socket in DIR only (no TCP), without fsync.
# usage: scripts/pg.sh start DIR   (prints the socket folder: libpq's host=)
#        scripts/pg.sh stop DIR
set -eu
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$bin/initdb" ] || { echo "pg.sh: PostgreSQL is not installed (sh scripts/deps.sh test)" >&2; exit 1; }
run() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case $cmd in
start)
	mkdir -p "$dir"
	[ "$(id -u)" = 0 ] && chown postgres "$dir"
	run "$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	run "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 -o \
		"-k $dir -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
		start >/dev/null || { tail -n 20 "$dir/server.log" >&2; exit 1; }
	echo "$dir"
	;;
stop)
	[ -d "$dir/data" ] && run "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
