#!/bin/sh
# `make run`: starts berth serve on ./var/berth and prints how to log in.
set -eu
cd "$(dirname "$0")/.."
listen=${BERTH_LISTEN:-127.0.0.1:5000}
data=${BERTH_DATA:-./var/berth}
mkdir -p "$data"
./build/berth serve --listen "$listen" --data "$data" "$@" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null' INT TERM
i=0
while ! curl -s -o /dev/null "http://$listen/v2/" 2>/dev/null; do
	i=$((i + 1))
	if [ $i -gt 100 ] || ! kill -0 $pid 2>/dev/null; then
		echo "berth: the server did not start (see the messages above)" >&2
		wait $pid || exit 1
	fi
	sleep 0.1
done
pwfile="$data/initial-owner-password"
cat <<MSG

berth is serving the registry on http://$listen (data in $data)
  user:      owner (Owner of everything)
  password:  in $pwfile (written at the first start, mode 0600)

  log in:    ./build/berth auth login --server http://$listen -u owner --password-stdin < $pwfile
             ./build/berth login $listen          (writes docker's and podman's credential files)
             or: podman login --tls-verify=false -u owner --password-stdin $listen < $pwfile
  push:      skopeo copy --dest-tls-verify=false oci:DIR:TAG docker://$listen/REPO:TAG
  pull:      podman pull --tls-verify=false $listen/REPO:TAG
  catalog:   curl -u owner:\$(cat $pwfile) http://$listen/v2/_catalog
  diagnose:  ./build/berth check-health $listen --repository REPO --action push
  stop with Ctrl-C.
MSG
wait $pid
