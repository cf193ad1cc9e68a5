#!/bin/sh
# A throwaway Ceph RADOS Gateway (S3) for the tests: one ceph-mon, one OSD on memstore (RAM, no
# disks) and one radosgw, all in DIR (config, mon store, logs, pid files, admin sockets), on free
# loopback ports, without cephx. Nothing under /etc/ceph or /var/lib/ceph is read or written.
# usage: scripts/rgw.sh start DIR   (prints the endpoint; DIR/env holds BERTH_TEST_S3_ENDPOINT,
#                                    BERTH_TEST_S3_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)
#        scripts/rgw.sh stop DIR
set -eu
cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then echo "usage: $0 start|stop DIR" >&2; exit 2; fi
for b in ceph-mon ceph-osd radosgw radosgw-admin monmaptool ceph python3 curl; do
	command -v $b >/dev/null || { echo "rgw.sh: $b is not installed (sh scripts/deps.sh test)" >&2; exit 1; }
done

# fail LOG MESSAGE: says what failed, shows the end of the daemon's log, stops what was started.
fail() {
	echo "rgw.sh: $2" >&2
	[ -f "$1" ] && tail -n 30 "$1" >&2
	stop
	exit 1
}

# running PID: whether PID is a live daemon of DIR's cluster (its command line names DIR's
# ceph.conf): not a pid reused since, nor a zombie (whose command line is empty).
running() {
	{ tr '\0' ' ' <"/proc/$1/cmdline"; } 2>/dev/null | grep -qF -- "-c $dir/ceph.conf "
}

# stop: each daemon DIR has a pid file of, gateway first and mon last (radosgw stuck on a dead
# mon takes long to stop): TERM, and KILL if it still runs after 5 s.
stop() {
	for f in "$dir"/run/client.rgw.pid "$dir"/run/osd.*.pid "$dir"/run/mon.*.pid; do
		[ -f "$f" ] || continue
		p=$(cat "$f")
		if [ -z "$p" ] || ! running "$p" || ! kill "$p" 2>/dev/null; then continue; fi
		i=0
		while running "$p" && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		! running "$p" || kill -KILL "$p" 2>/dev/null || true
	done
}

[ "$cmd" = start ] && mkdir -p "$dir"
[ -d "$dir" ] && dir=$(cd "$dir" && pwd)
case $cmd in
start)
	# a cluster is made once: its mon store and OSD (in RAM) do not outlive a stop
	[ ! -e "$dir/ceph.conf" ] || { echo "rgw.sh: $dir already holds a cluster: start wants a fresh DIR" >&2; exit 1; }
	mkdir -p "$dir/run" "$dir/log" "$dir/mon/a" "$dir/rgw"
	# Two free ports (mon, radosgw), held together so they differ; outside ms_bind_port_min..max
	# (6800-7300), where OSDs of other instances bind.
	read -r monport rgwport <<EOF
$(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
EOF
	fsid=$(cat /proc/sys/kernel/random/uuid)
	conf=$dir/ceph.conf
	cat >"$conf" <<EOF
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$monport
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
ms bind msgr1 = false
ms bind ipv6 = false
auth cluster required = none
auth service required = none
auth client required = none
auth allow insecure global id reclaim = true
# radosgw defaults to secure mode towards the mon, which auth none cannot give
ms mon client mode = crc secure
keyring = /dev/null
run dir = $dir/run
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
mon cluster log file = $dir/log/cluster.log
crash dir = $dir/crash
mon data = $dir/mon/\$id
osd data = $dir/osd/\$id
rgw data = $dir/rgw
osd objectstore = memstore
memstore device bytes = 3221225472
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon max pg per osd = 1000
mon allow pool delete = true
# the mon stops when its disk is under mon_data_avail_crit (5%) free; memstore does not use it
mon data avail crit = 0
mon warn on pool no redundancy = false
# each pool radosgw creates is an osdmap change; the default (1 s a proposal) makes its start 10 s
paxos propose interval = 0.01

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$rgwport tcp_nodelay=1
rgw enable usage log = false
# the bytes of deleted objects go to radosgw's gc, which frees them after 2 h by default: in RAM
rgw gc obj min wait = 5
rgw gc processor period = 5
EOF
	monmaptool --create --fsid "$fsid" --addv a "[v2:127.0.0.1:$monport]" "$dir/monmap" >"$dir/log/monmaptool.log" 2>&1 ||
		fail "$dir/log/monmaptool.log" "monmaptool failed"
	ceph-mon -c "$conf" -i a --mkfs --monmap "$dir/monmap" >"$dir/log/mon-mkfs.log" 2>&1 ||
		fail "$dir/log/mon-mkfs.log" "ceph-mon --mkfs failed"
	ceph-mon -c "$conf" -i a >"$dir/log/mon.out" 2>&1 || fail "$dir/log/mon.a.log" "ceph-mon did not start"
	osduuid=$(cat /proc/sys/kernel/random/uuid)
	osd=$(ceph -c "$conf" --connect-timeout 20 osd new "$osduuid" 2>"$dir/log/osd-new.log") ||
		fail "$dir/log/mon.a.log" "ceph osd new failed: $(cat "$dir/log/osd-new.log")"
	mkdir -p "$dir/osd/$osd"
	ceph-osd -c "$conf" -i "$osd" --mkfs --osd-uuid "$osduuid" >"$dir/log/osd-mkfs.log" 2>&1 ||
		fail "$dir/log/osd-mkfs.log" "ceph-osd --mkfs failed"
	ceph-osd -c "$conf" -i "$osd" >"$dir/log/osd.out" 2>&1 || fail "$dir/log/osd.$osd.log" "ceph-osd did not start"
	# radosgw's own daemonizing returns only once it has reached the cluster (or after
	# rgw_init_timeout, 300 s): run it in the foreground in a session of its own and poll instead.
	setsid radosgw -c "$conf" -n client.rgw -f >"$dir/log/rgw.out" 2>&1 </dev/null &
	echo $! >"$dir/run/client.rgw.pid"
	i=0
	until curl -s -m 2 -o /dev/null "http://127.0.0.1:$rgwport/"; do
		running "$(cat "$dir/run/client.rgw.pid")" || fail "$dir/log/client.rgw.log" "radosgw exited"
		i=$((i + 1))
		[ $i -lt 300 ] || fail "$dir/log/client.rgw.log" "radosgw does not answer on 127.0.0.1:$rgwport"
		sleep 0.1
	done
	key=$(tr -dc 'A-Z0-9' </dev/urandom | head -c 20)
	secret=$(tr -dc 'A-Za-z0-9' </dev/urandom | head -c 40)
	radosgw-admin -c "$conf" user create --uid=berth --display-name=berth \
		--access-key="$key" --secret-key="$secret" >"$dir/log/user-create.log" 2>&1 ||
		fail "$dir/log/user-create.log" "radosgw-admin user create failed"
	# curl 7.88 signs its payload hash without sending x-amz-content-sha256; radosgw then signs
	# UNSIGNED-PAYLOAD and the signatures differ: send the header (curl signs the value it names).
	i=0
	until curl -sf -m 2 -o /dev/null -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" --aws-sigv4 "aws:amz:default:s3" --user "$key:$secret" "http://127.0.0.1:$rgwport/"; do
		i=$((i + 1))
		[ $i -lt 100 ] || fail "$dir/log/client.rgw.log" "radosgw refuses the user's signed requests"
		sleep 0.1
	done
	cat >"$dir/env" <<EOF
BERTH_TEST_S3_ENDPOINT=http://127.0.0.1:$rgwport
BERTH_TEST_S3_REGION=default
AWS_ACCESS_KEY_ID=$key
AWS_SECRET_ACCESS_KEY=$secret
EOF
	echo "http://127.0.0.1:$rgwport"
	;;
stop)
	stop
	;;
*) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
