#!/bin/sh
# Fails when a module calls a module it may not use: upward, or a sibling.
# The allowed uses are the DEPS_<module> lines of the Makefile; the calls
# are read with nm from each module's archive (libberth_<m>.a in DIR,
# default build), since a static archive links an upward call as soon as
# something else pulled the callee's object in.
# usage: scripts/check-layers.sh [DIR]
set -eu
cd "$(dirname "$0")/.."
dir=${1:-build}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
modules=$(sed -n 's/^MODULES := //p' Makefile)
for m in $modules; do
	a="$dir/libberth_$m.a"
	[ -f "$a" ] || { echo "check-layers: $a is missing: build first"; exit 1; }
	nm -g --defined-only "$a" 2>/dev/null | awk -v m="$m" 'NF == 3 { print $3, m }' >> "$tmp/defs"
	nm -g --undefined-only "$a" 2>/dev/null | awk -v m="$m" 'NF == 2 && $1 == "U" { print $2, m }' >> "$tmp/uses"
done
bad=0
for m in $modules; do
	allowed=" $m $(sed -n "s/^DEPS_$m *:= *//p" Makefile) "
	# symbol, using module, defining module
	awk -v m="$m" '$2 == m' "$tmp/uses" | sort -u | while read -r sym user; do
		def=$(awk -v s="$sym" '$1 == s { print $2; exit }' "$tmp/defs")
		[ -n "$def" ] || continue # a library's symbol (libc, OpenSSL, ...)
		case "$allowed" in
		*" $def "*) ;;
		*) echo "not ok - $user calls $sym of $def (allowed: $allowed)"; echo x >> "$tmp/bad" ;;
		esac
	done
done
if [ -s "$tmp/bad" ]; then
	echo "check-layers: $(wc -l < "$tmp/bad") calls outside the layers (Makefile DEPS_<module>)"
	exit 1
fi
echo "ok - every call stays within the layers ($(echo $modules | wc -w) modules, $(sort -u "$tmp/uses" | wc -l) uses)"
