#!/bin/sh
# `make run`: starts berth serve on ./var/berth in the foreground.
set -eu
cd "$(dirname "$0")/.."
listen=${BERTH_LISTEN:-127.0.0.1:5000}
data=${BERTH_DATA:-./var/berth}
mkdir -p "$data"
cat <<MSG
berth: serving the OCI Distribution API on http://$listen (data in $data)
  push an image:  skopeo copy --dest-tls-verify=false oci:DIR:TAG docker://$listen/REPO:TAG
  pull it:        podman pull --tls-verify=false $listen/REPO:TAG
  list:           curl http://$listen/v2/_catalog
  stop with Ctrl-C (SIGINT) or SIGTERM.
MSG
exec ./build/berth serve --listen "$listen" --data "$data" "$@"
