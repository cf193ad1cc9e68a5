#!/bin/sh
# Writes the nginx configuration that puts two berth servers behind one port, each request to the
# next server (round robin), as a load balancer in front of servers sharing PostgreSQL and S3 would:
# Host passed through, request and response bodies streamed, no retry on the other server, upstream
# connections kept alive. The two-server e2e pass (tests/e2e/lib.sh) and bench/s3.sh use it.
# usage: scripts/nginx-pair.sh DIR PORT SERVER1 SERVER2 [ACCESS_LOG]  (servers as HOST:PORT)
# DIR holds nginx's pid, error log and temp folders; ACCESS_LOG, if given, gets one line per
# request naming the server that answered it. The configuration goes to stdout.
set -eu
[ $# -ge 4 ] || { echo "usage: $0 DIR PORT SERVER1 SERVER2 [ACCESS_LOG]" >&2; exit 2; }
dir=$1 port=$2 a=$3 b=$4 log=${5:-}
mkdir -p "$dir/tmp"
[ "$(id -u)" = 0 ] && echo 'user root;'
if [ -n "$log" ]; then
	access="log_format pair '\$upstream_addr \$status \$request_method \$uri';
    access_log $log pair;"
else
	access="access_log off;"
fi
cat <<NGINX
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 1024; }
http {
    $access
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    client_max_body_size 0;
    large_client_header_buffers 8 64k;
    keepalive_requests 1000000;
    upstream pair {
        server $a;
        server $b;
        keepalive 64;
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://pair;
            proxy_http_version 1.1;
            proxy_set_header Host \$http_host;
            proxy_set_header Connection "";
            proxy_request_buffering off;
            proxy_buffering off;
            proxy_next_upstream off;
            proxy_read_timeout 900s;
            proxy_send_timeout 900s;
        }
    }
}
NGINX
