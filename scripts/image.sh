#!/bin/sh
# berth's container image, without a container daemon: an OCI image layout tagged <version>, one layer
# made with umoci from `make install-bin DESTDIR=<stage>` of the release build: the binary (stripped), the
# shared libraries ldd resolves for it with the dynamic loader and those it opens with dlopen (with what
# ldd resolves for them: scripts/libs.sh), Debian's CA bundle, an /etc/passwd and
# /etc/group with the user berth (65532), and /var/lib/berth, the data volume, owned by it. Runs as root
# (the layer's owners are the files' own); the user is given by number, so that a runtime can tell it is
# not root without reading the image's files. Prints the layout's reference (DIR:TAG).
# usage: scripts/image.sh DIR        (make image: DIR=dist/image)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
layout=$1
# a layout made before is made anew; anything else there is left alone
if [ -e "$layout" ] && [ ! -f "$layout/oci-layout" ]; then
	echo "scripts/image.sh: $layout is there and is not an image layout; not replacing it" >&2
	exit 1
fi
# shellcheck source=../dist/package.env
. "$top/dist/package.env"
if [ "$(id -u)" != 0 ]; then
	echo "scripts/image.sh: run it as root: the layer keeps its files' owners (root, and berth for its data)" >&2
	exit 1
fi
berth=$top/build/berth
version=$("$berth" version | sed 's/^berth //')
uid=65532
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git -C "$top" log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
commit=$(git -C "$top" rev-parse HEAD 2>/dev/null || echo unknown)
# the image's architecture in OCI's (Go's) words
case $(dpkg --print-architecture) in
i386) arch=386 ;;
armel | armhf) arch=arm ;;
ppc64el) arch=ppc64le ;;
*) arch=$(dpkg --print-architecture) ;;
esac
ca=/etc/ssl/certs/ca-certificates.crt
[ -s "$ca" ] || {
	echo "scripts/image.sh: $ca is missing (apt-get install ca-certificates)" >&2
	exit 1
}

stage=$(mktemp -d "${TMPDIR:-/tmp}/berth-image.XXXXXX")
trap 'rm -rf "$stage"' EXIT
umask 022
make -s -C "$top" install-bin DESTDIR="$stage/installed" PREFIX=/usr >"$stage/install.log" 2>&1 || {
	cat "$stage/install.log" >&2
	exit 1
}
rootfs=$stage/rootfs
bin=$rootfs/usr/bin/berth
install -d "$rootfs/usr/bin" "$rootfs/etc/ssl/certs" "$rootfs/var/lib/berth"
install -d -m 1777 "$rootfs/tmp"
install -m 0755 "$stage/installed/usr/bin/berth" "$bin"
strip --remove-section=.comment --remove-section=.note "$bin"

# exactly what the loader maps for it, and for the libraries berth opens with dlopen (libcurl for the
# client commands and S3, libpq for PostgreSQL, libsystemd for sd_notify: scripts/libs.sh), the loader
# itself among them, as regular files at the paths it looks them up by
sh "$top/scripts/libs.sh" "$bin" >"$stage/libs"
interp=$(readelf -l "$bin" | sed -n 's/.*Requesting program interpreter: \(.*\)]/\1/p')
grep -qx "$interp" "$stage/libs" || {
	echo "scripts/image.sh: scripts/libs.sh did not list the loader $interp" >&2
	exit 1
}
while read -r lib; do
	install -D -m 0644 "$lib" "$rootfs$lib"
done <"$stage/libs"
chmod 0755 "$rootfs$interp"

install -m 0644 "$ca" "$rootfs$ca"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\nberth:x:%s:%s:berth:/var/lib/berth:/usr/sbin/nologin\n' \
	"$uid" "$uid" >"$rootfs/etc/passwd"
printf 'root:x:0:\nberth:x:%s:\n' "$uid" >"$rootfs/etc/group"
printf 'passwd: files\ngroup: files\nhosts: files dns\n' >"$rootfs/etc/nsswitch.conf"
chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group" "$rootfs/etc/nsswitch.conf"
chown "$uid:$uid" "$rootfs/var/lib/berth"
chmod 0700 "$rootfs/var/lib/berth"
find "$rootfs" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +

tag=$version
rm -rf "$layout"
mkdir -p "$(dirname "$layout")"
umoci init --layout "$layout"
umoci new --image "$layout:$tag"
umoci insert --image "$layout:$tag" --history.created "$created" \
	--history.created_by "scripts/image.sh: berth $version, its libraries, CA certificates" "$rootfs" /
set -- --config.label "org.opencontainers.image.title=berth" \
	--config.label "org.opencontainers.image.description=self-hosted OCI container registry" \
	--config.label "org.opencontainers.image.version=$version" \
	--config.label "org.opencontainers.image.revision=$commit" \
	--config.label "org.opencontainers.image.created=$created" \
	--config.label "org.opencontainers.image.licenses=$BERTH_LICENSE"
[ -z "$BERTH_SOURCE_URL" ] || set -- "$@" --config.label "org.opencontainers.image.source=$BERTH_SOURCE_URL"
umoci config --image "$layout:$tag" --created "$created" --os linux --architecture "$arch" \
	--history.created "$created" --history.created_by "scripts/image.sh: the run settings" \
	--config.user "$uid:$uid" --config.workingdir /var/lib/berth --config.env PATH=/usr/bin \
	--config.entrypoint berth --config.cmd serve --config.cmd --listen --config.cmd 0.0.0.0:5000 \
	--config.cmd --data --config.cmd /var/lib/berth \
	--config.exposedports 5000/tcp --config.volume /var/lib/berth "$@"
umoci gc --layout "$layout"
echo "$layout:$tag"
