#!/bin/sh
# The shared libraries berth runs on, one path a line, sorted: what ldd resolves for the binary (the
# dynamic loader included), and the libraries it opens with dlopen where it uses them (`berth doc
# libraries`: libcurl, libpq, libsystemd), each from the folder the loader took libc from, with what
# ldd resolves for each of them. What scripts/image.sh puts in the image; tests/e2e/0702 checks it.
# usage: scripts/libs.sh BERTH
set -eu
bin=$1
paths() { ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'; }
all=$(paths "$bin")
libdir=$(dirname "$(echo "$all" | grep '/libc\.so\.' | head -n 1)")
[ "$libdir" != . ] || {
	echo "scripts/libs.sh: ldd names no libc for $bin" >&2
	exit 1
}
lazy=$("$bin" doc libraries)
for soname in $(echo "$lazy" | cut -f1); do
	lib=$libdir/$soname
	[ -e "$lib" ] || {
		echo "scripts/libs.sh: $lib is missing (install $(echo "$lazy" | grep "^$soname	" | cut -f2))" >&2
		exit 1
	}
	all=$(printf '%s\n%s\n%s' "$all" "$lib" "$(paths "$lib")")
done
echo "$all" | sort -u
