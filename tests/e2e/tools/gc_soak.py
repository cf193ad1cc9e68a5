#!/usr/bin/env python3
"""Pushers, mounters and a verifier for the gc soak test (0105).

usage: gc_soak.py URL SECONDS REPORT

Pushers re-push blobs of a fixed set into their repositories, each time
followed by a uniquely annotated manifest; each pusher keeps its last KEEP
manifests and deletes older ones, so blobs keep becoming unreferenced while
`berth gc` runs in a loop beside this. Mounters mount blobs of kept
manifests into their own repositories and reference them from a manifest of
their own. Only what the registry acknowledged (201) is recorded.

A watcher HEADs the blobs of kept manifests all the time: a blob that is
missing while its manifest was kept for the whole request is lost (a later
re-push of the same bytes would hide the loss, so it must be seen as it
happens). When the time is up every kept manifest is fetched by tag and every
blob it references is fetched and hashed.

REPORT gets one JSON object with the counts; the exit status is 0.
"""
import hashlib
import http.client
import json
import os
import random
import sys
import threading
import time
import urllib.parse

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"
NBLOBS = 100
KEEP = 2
PUSHERS = 8
MOUNTERS = 2

url = urllib.parse.urlsplit(sys.argv[1])
seconds = float(sys.argv[2])
report = sys.argv[3]
rng = random.Random(1)
blobs = [rng.randbytes(1024 + 37 * i) for i in range(NBLOBS)]
digests = ["sha256:" + hashlib.sha256(b).hexdigest() for b in blobs]
lock = threading.Lock()
kept = {}          # id -> (repo, tag, [blob indexes]): acknowledged and not deleted
next_id = [0]
lost = set()       # (repo, digest) seen missing while kept
counts = {"blob_push_ok": 0, "blob_push_refused": 0, "mount_ok": 0, "mount_fallback": 0,
          "manifest_ok": 0, "manifest_refused": 0, "manifest_deleted": 0, "errors": 0,
          "watch_heads": 0}


def bump(key, n=1):
    with lock:
        counts[key] += n


class Client:
    def __init__(self):
        self.c = None

    def req(self, method, path, body=None, headers=None):
        for attempt in range(2):
            try:
                if self.c is None:
                    self.c = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
                self.c.request(method, path, body=body, headers=headers or {})
                r = self.c.getresponse()
                data = r.read()
                return r.status, r.getheader("Location"), data
            except (OSError, http.client.HTTPException):
                if self.c is not None:
                    self.c.close()
                self.c = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def push_blob(cl, repo, i):
    st, _, _ = cl.req("POST", "/v2/%s/blobs/uploads/?digest=%s" % (repo, digests[i]), blobs[i],
                      {"Content-Type": "application/octet-stream"})
    bump("blob_push_ok" if st == 201 else "blob_push_refused")
    return st == 201


def manifest(cfg, layers, note):
    return json.dumps({
        "schemaVersion": 2, "mediaType": MT_MANIFEST,
        "config": {"mediaType": MT_CONFIG, "digest": digests[cfg], "size": len(blobs[cfg])},
        "layers": [{"mediaType": MT_LAYER, "digest": digests[i], "size": len(blobs[i])} for i in layers],
        "annotations": {"soak": note}}).encode()


def put_manifest(cl, repo, tag, cfg, layers):
    body = manifest(cfg, layers, "%s:%s" % (repo, tag))
    st, _, _ = cl.req("PUT", "/v2/%s/manifests/%s" % (repo, tag), body, {"Content-Type": MT_MANIFEST})
    if st != 201:
        bump("manifest_refused")
        return None
    bump("manifest_ok")
    return "sha256:" + hashlib.sha256(body).hexdigest()


def keep(mine, repo, tag, idx, digest):
    """Records an acknowledged manifest; returns the oldest of mine beyond KEEP, forgotten."""
    with lock:
        next_id[0] += 1
        kept[next_id[0]] = (repo, tag, idx)
        mine.append((next_id[0], digest))
        if len(mine) <= KEEP:
            return None
        old = mine.pop(0)
        del kept[old[0]]
        return old


def drop(cl, repo, old):
    """Deletes a manifest that is no longer kept."""
    if old is None:
        return
    st, _, _ = cl.req("DELETE", "/v2/%s/manifests/%s" % (repo, old[1]))
    if st == 202:
        bump("manifest_deleted")


def pusher(p, deadline):
    cl = Client()
    r = random.Random(100 + p)
    repo = "soak/push%d" % p
    mine = []
    k = 0
    while time.time() < deadline:
        k += 1
        cfg, layer = r.randrange(NBLOBS), r.randrange(NBLOBS)
        try:
            if not (push_blob(cl, repo, cfg) and push_blob(cl, repo, layer)):
                continue
            tag = "k%d" % k
            d = put_manifest(cl, repo, tag, cfg, [layer])
            if d is not None:
                drop(cl, repo, keep(mine, repo, tag, [cfg, layer], d))
        except (OSError, http.client.HTTPException):
            bump("errors")


def mounter(m, deadline):
    cl = Client()
    r = random.Random(200 + m)
    repo = "soak/mount%d" % m
    mine = []
    k = 0
    while time.time() < deadline:
        with lock:
            src = kept[r.choice(list(kept))] if kept else None
        if src is None:
            time.sleep(0.01)
            continue
        k += 1
        srepo, _, idx = src
        try:
            ok = True
            for i in idx:
                st, loc, _ = cl.req("POST", "/v2/%s/blobs/uploads/?mount=%s&from=%s" % (repo, digests[i], srepo))
                if st == 201:
                    bump("mount_ok")
                    continue
                bump("mount_fallback")
                if st == 202 and loc:
                    cl.req("DELETE", urllib.parse.urlsplit(loc).path)
                ok = ok and push_blob(cl, repo, i)
            if not ok:
                continue
            tag = "k%d" % k
            d = put_manifest(cl, repo, tag, idx[0], idx[1:])
            if d is not None:
                drop(cl, repo, keep(mine, repo, tag, idx, d))
        except (OSError, http.client.HTTPException):
            bump("errors")


def watcher(deadline):
    cl = Client()
    while time.time() < deadline:
        with lock:
            snapshot = list(kept.items())
        for rid, (repo, _, idx) in snapshot:
            for i in idx:
                try:
                    st, _, _ = cl.req("HEAD", "/v2/%s/blobs/%s" % (repo, digests[i]))
                except (OSError, http.client.HTTPException):
                    bump("errors")
                    continue
                bump("watch_heads")
                if st == 200:
                    continue
                with lock:
                    if rid in kept:  # kept before the request and still: nothing could unlink it
                        lost.add((repo, digests[i]))


def verify():
    cl = Client()
    missing, checked, manifests_missing = [], 0, 0
    for repo, tag, idx in kept.values():
        st, _, _ = cl.req("GET", "/v2/%s/manifests/%s" % (repo, tag), None, {"Accept": MT_MANIFEST})
        if st != 200:
            manifests_missing += 1
        for i in idx:
            checked += 1
            st, _, data = cl.req("GET", "/v2/%s/blobs/%s" % (repo, digests[i]))
            if st != 200 or hashlib.sha256(data).hexdigest() != digests[i][7:]:
                missing.append("%s@%s: %d" % (repo, digests[i], st))
    return checked, missing, manifests_missing


def main():
    deadline = time.time() + seconds
    threads = [threading.Thread(target=pusher, args=(p, deadline)) for p in range(PUSHERS)]
    threads += [threading.Thread(target=mounter, args=(m, deadline)) for m in range(MOUNTERS)]
    threads.append(threading.Thread(target=watcher, args=(deadline,)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    checked, missing, manifests_missing = verify()
    out = dict(counts, kept=len(kept), blobs_checked=checked, blobs_missing=len(missing),
               manifests_missing=manifests_missing, first_missing=missing[:5],
               lost_while_kept=len(lost), first_lost=sorted(lost)[:5])
    with open(report, "w") as f:
        json.dump(out, f)


main()
