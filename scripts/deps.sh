#!/bin/sh
# Installs the Debian packages berth needs, only those missing; quiet when all are present.
# usage: scripts/deps.sh build|dist|test|bench|fuzz
set -eu
build="gcc make pkg-config libmicrohttpd-dev libgnutls28-dev libssl-dev libjansson-dev libsqlite3-dev libpq-dev libsodium-dev libcurl4-openssl-dev libsystemd-dev"
# make deb and make image: dpkg-shlibdeps, umoci, the CA bundle the image carries
dist="$build dpkg-dev umoci ca-certificates"
test="$dist groff-base man-db systemd curl jq python3 skopeo podman runc uidmap lintian openssl faketime docker.io postgresql nginx-light ceph-mon ceph-osd radosgw ceph-common azure-cli"
bench="$test docker-registry wrk apache2-utils"
# make fuzz: clang and its runtime libraries (libFuzzer, ASan, UBSan: libclang_rt.*.a, which
# Debian 12 ships in libclang-rt-14-dev, pulled in by libclang-rt-dev and only recommended by clang)
fuzz="$build clang libclang-rt-dev"
case "${1:-build}" in
build) want=$build ;;
dist) want=$dist ;;
test) want=$test ;;
bench) want=$bench ;;
fuzz) want=$fuzz ;;
*) echo "usage: $0 build|dist|test|bench|fuzz" >&2; exit 2 ;;
esac
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "berth: missing packages:$missing (run as root or install them)" >&2
	exit 1
fi
echo "berth: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends $missing >/dev/null
