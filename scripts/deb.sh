#!/bin/sh
# berth's Debian package, with dpkg-deb alone: `make install DESTDIR=<stage> PREFIX=/usr` of the release
# build, laid out as Debian wants it (the binary stripped, man pages gzipped, the unit in
# /lib/systemd/system, zsh completion in vendor-completions, the copyright file and changelog.Debian.gz),
# a control file whose Depends dpkg-shlibdeps computes from the libraries the binary links (and the
# libraries it opens with dlopen, named by `berth doc libraries`, added), md5sums, and dist/deb's
# maintainer scripts. Prints the package's path.
# usage: scripts/deb.sh OUTDIR        (make deb: OUTDIR=dist)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
out=$1
# shellcheck source=../dist/package.env
. "$top/dist/package.env"
berth=$top/build/berth
version=$("$berth" version | sed 's/^berth //')
debver=$version-$BERTH_DEB_REVISION
arch=$(dpkg --print-architecture)
# man pages' dates, the changelog's and the files' times: the commit's, so two builds of it agree
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)

stage=$(mktemp -d "${TMPDIR:-/tmp}/berth-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
# the tree where dpkg-shlibdeps expects a package: debian/<package> beside debian/control
root=$stage/src/debian/berth
doc=$root/usr/share/doc/berth
umask 022
make -s -C "$top" install DESTDIR="$root" PREFIX=/usr DISTDIR="$stage/gen" UNITDIR=/lib/systemd/system \
	ZSHCOMPDIR=/usr/share/zsh/vendor-completions >"$stage/install.log" 2>&1 || {
	cat "$stage/install.log" >&2
	exit 1
}

# what dh_strip does: no symbols, no .comment or .note (the build id stays)
strip --remove-section=.comment --remove-section=.note "$root/usr/bin/berth"
# man pages gzipped, and the links among them pointed at the gzipped names
find "$root/usr/share/man" -type f -name '*.[0-9]' -exec gzip -9n {} +
find "$root/usr/share/man" -type l -name '*.[0-9]' | while read -r l; do
	ln -s "$(readlink "$l").gz" "$l.gz"
	rm "$l"
done

install -d "$doc"
install -m 0644 "$top/dist/copyright" "$doc/copyright"
{
	printf 'berth (%s) unstable; urgency=medium\n\n' "$debver"
	printf '  * berth %s, built from commit %s.\n\n' "$version" "$commit"
	printf ' -- %s  %s\n' "$BERTH_MAINTAINER" "$(date -u -R -d "@$SOURCE_DATE_EPOCH")"
} | gzip -9n >"$doc/changelog.Debian.gz"
install -D -m 0644 "$top/dist/deb/lintian-overrides" "$root/usr/share/lintian/overrides/berth"

# Depends: what dpkg-shlibdeps reads from the binary's NEEDED libraries and their packages' shlibs
# (it wants a debian/control naming the package, and the package's tree, DEBIAN included, below it)
mkdir -p "$root/DEBIAN"
printf 'Source: berth\n\nPackage: berth\nArchitecture: any\n' >"$stage/src/debian/control"
depends=$(cd "$stage/src" && dpkg-shlibdeps -O -edebian/berth/usr/bin/berth | sed -n 's/^shlibs:Depends=//p')
[ -n "$depends" ] || {
	echo "scripts/deb.sh: dpkg-shlibdeps found no dependencies" >&2
	exit 1
}
# the libraries berth opens with dlopen (`berth doc libraries`), which dpkg-shlibdeps cannot see, each as
# new as its shlibs entry asks (what dpkg-shlibdeps would write): libcurl4 in Depends, since every client
# command and docker-credential-berth talk HTTP through it; libpq5 and libsystemd0 in Recommends, since
# only PostgreSQL metadata and the systemd unit need them: apt installs them by default, a server on its
# data folder runs without them, and systemd itself depends on libsystemd0
shlibs_dep() { # PACKAGE SONAME
	shlibs=$(dpkg-query --control-path "$1" shlibs 2>/dev/null) || shlibs=/dev/null
	dep=$(sed -n "s/^${2%%.so.*} ${2##*.so.} //p" "$shlibs" | head -n 1)
	echo "${dep:-$1}"
}
recommends=
"$berth" doc libraries >"$stage/lazy"
while IFS='	' read -r soname package _; do
	case $package in
	libcurl4) depends="$depends, $(shlibs_dep "$package" "$soname")" ;;
	*) recommends="${recommends:+$recommends, }$(shlibs_dep "$package" "$soname")" ;;
	esac
done <"$stage/lazy"

for s in postinst prerm postrm; do
	install -m 0755 "$top/dist/deb/$s" "$root/DEBIAN/$s"
done
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort |
	xargs md5sum) >"$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums"
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
{
	printf 'Package: berth\nVersion: %s\nArchitecture: %s\n' "$debver" "$arch"
	printf 'Maintainer: %s\nInstalled-Size: %s\nDepends: %s\n' "$BERTH_MAINTAINER" "$size" "$depends"
	[ -z "$recommends" ] || printf 'Recommends: %s\n' "$recommends"
	printf 'Section: net\nPriority: optional\n'
	[ -z "$BERTH_SOURCE_URL" ] || printf 'Homepage: %s\n' "$BERTH_SOURCE_URL"
	cat <<'EOF'
Description: self-hosted OCI container registry
 berth serves the OCI Distribution API from one binary, with blobs in a
 content-addressed folder (or an S3 bucket) and metadata in SQLite (or
 PostgreSQL). Its login and access model follows Azure Container Registry:
 several registries per server, users, service principals, repository
 tokens with scope maps, roles, and the Docker token flow.
 .
 This package holds the berth command (the daemon, berth serve, and its
 command line), docker-credential-berth, man pages, bash and zsh completion
 and a systemd unit (a dynamic user, data in /var/lib/berth), which is
 neither enabled nor started on install.
EOF
} >"$root/DEBIAN/control"

find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
mkdir -p "$out"
deb=$out/berth_${debver}_$arch.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
