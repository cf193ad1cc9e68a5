#!/usr/bin/env python3
"""Registry client helpers for bench/run.sh and bench/s3.sh.

Each subcommand talks to one registry over a single keep-alive HTTP/1.1
connection (http.client; tags and repos over CONNS of them, one thread each)
and prints one JSON object on stdout.

  chunked  BASE REPO FILE DIGEST CHUNK   PATCH FILE in CHUNK-byte pieces, then PUT ?digest=
  small    BASE REPO COUNT SIZE          push COUNT random blobs of SIZE bytes
  image    BASE REPO TAG [AUTH]          push config + 1 KiB layer + OCI image manifest;
                                         AUTH, if given, is sent as the Authorization
                                         header of every request ("Basic ...")
  ensure   BASE REPO FILE DIGEST         push FILE monolithically unless the blob is present
  tags     BASE REPO FIRST COUNT CONNS [SECONDS]
                                         tag one manifest as t0000000 .. (tags FIRST .. FIRST+COUNT-1,
                                         zero-padded so their order is numeric) on CONNS connections
  repos    BASE PREFIX FIRST COUNT CONNS [SECONDS]
                                         make repositories PREFIX/r0000000 .. each holding the image of
                                         PREFIX/src as v1 (two blob mounts and a manifest PUT each)

With SECONDS, tags and repos stop making more once that long has passed; the
JSON then says "complete": false and counts what was made.

BASE is http://host:port. Errors go to stderr and make the exit status non-zero.
"""

import hashlib
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

OCTET = "application/octet-stream"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


class BenchError(Exception):
    pass


class ServerError(BenchError):
    """An answer with a 5xx status."""


class Client:
    def __init__(self, base, authorization=None):
        self.authorization = authorization
        u = urllib.parse.urlsplit(base)
        self.host = u.hostname
        self.port = u.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=600,
                                               blocksize=1 << 20)

    def request(self, method, path, body=None, headers=None):
        hdrs = dict(headers or {})
        if self.authorization:
            hdrs.setdefault("Authorization", self.authorization)
        if body is None:
            if method in ("PUT", "POST", "PATCH"):
                hdrs.setdefault("Content-Length", "0")
        elif "Content-Length" not in hdrs:
            hdrs["Content-Length"] = str(memoryview(body).nbytes)
        try:
            self.conn.request(method, path, body=body, headers=hdrs)
            resp = self.conn.getresponse()
        except (ConnectionError, http.client.HTTPException):
            # The server may have closed the kept-alive socket; retry once.
            self.conn.close()
            self.conn.request(method, path, body=body, headers=hdrs)
            resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, resp.headers, data

    def close(self):
        self.conn.close()


def location_path(loc):
    """Turn a Location header (absolute or relative) into path?query."""
    if not loc:
        raise BenchError("answer carries no Location header")
    u = urllib.parse.urlsplit(loc)
    path = u.path or "/"
    return path + ("?" + u.query if u.query else "")


def with_query(path, extra):
    return path + ("&" if "?" in path else "?") + extra


def expect(status, want, what, data=b""):
    if status not in want:
        detail = data[:300].decode("utf-8", "replace")
        err = ServerError if status >= 500 else BenchError
        raise err(f"{what}: HTTP {status} (want {want}) {detail}")


def start_upload(c, repo):
    st, h, d = c.request("POST", f"/v2/{repo}/blobs/uploads/")
    expect(st, (202,), "POST upload", d)
    return location_path(h.get("Location"))


def put_monolithic(c, repo, digest, body):
    loc = start_upload(c, repo)
    st, h, d = c.request("PUT", with_query(loc, "digest=" + digest), body=body,
                         headers={"Content-Type": OCTET})
    expect(st, (201,), "PUT blob", d)


def blob_present(c, repo, digest, size=None):
    st, h, _ = c.request("HEAD", f"/v2/{repo}/blobs/{digest}")
    if st == 307:
        # A registry over S3 may redirect HEAD to the bucket too: it has the blob.
        return True
    if st != 200:
        return False
    if size is not None and h.get("Content-Length") not in (None, str(size)):
        return False
    return True


# What a chunk is read and sent in: a piece that stays in the CPU's cache between
# the read and the send, as curl's upload buffer does (a whole 5 MiB chunk read
# at once and then sent cost this client about a fifth of the push's time).
PIECE = 256 << 10


def file_pieces(f, n, buf):
    """Yield the next n bytes of f, read into buf a piece at a time."""
    view = memoryview(buf)
    while n:
        k = f.readinto(view[:min(n, len(buf))])
        if not k:
            raise BenchError("short read")
        n -= k
        yield view[:k]


def cmd_chunked(base, repo, path, digest, chunk):
    chunk = int(chunk)
    size = os.path.getsize(path)
    buf = bytearray(PIECE)
    c = Client(base)
    patches = 0
    with open(path, "rb", buffering=0) as f:
        t0 = time.perf_counter()
        loc = start_upload(c, repo)
        off = 0
        while off < size:
            n = min(chunk, size - off)
            st, h, d = c.request("PATCH", loc, body=file_pieces(f, n, buf), headers={
                "Content-Type": OCTET,
                "Content-Length": str(n),
                "Content-Range": f"{off}-{off + n - 1}",
            })
            expect(st, (202,), f"PATCH at {off}", d)
            loc = location_path(h.get("Location"))
            off += n
            patches += 1
        st, h, d = c.request("PUT", with_query(loc, "digest=" + digest))
        expect(st, (201,), "PUT finish", d)
        t1 = time.perf_counter()
    if not blob_present(c, repo, digest, size):
        raise BenchError("blob not found after chunked push")
    c.close()
    return {"seconds": t1 - t0, "bytes": size, "patches": patches}


def cmd_small(base, repo, count, size):
    count, size = int(count), int(size)
    blobs = []
    for _ in range(count):
        b = os.urandom(size)
        blobs.append((b, "sha256:" + hashlib.sha256(b).hexdigest()))
    c = Client(base)
    single_ok = 0
    fallback = 0
    t0 = time.perf_counter()
    for body, digest in blobs:
        st, h, d = c.request("POST", f"/v2/{repo}/blobs/uploads/?digest={digest}",
                             body=body, headers={"Content-Type": OCTET})
        if st == 201:
            single_ok += 1
            continue
        expect(st, (202,), "POST ?digest=", d)
        fallback += 1
        loc = location_path(h.get("Location"))
        st, h, d = c.request("PUT", with_query(loc, "digest=" + digest), body=body,
                             headers={"Content-Type": OCTET})
        expect(st, (201,), "PUT small blob", d)
    t1 = time.perf_counter()
    # spot-check a few
    for body, digest in blobs[:: max(1, count // 5)]:
        if not blob_present(c, repo, digest, size):
            raise BenchError("small blob missing after push: " + digest)
    c.close()
    mode = "single-POST" if fallback == 0 else ("POST+PUT" if single_ok == 0 else "mixed")
    return {"seconds": t1 - t0, "count": count, "mode": mode,
            "single": single_ok, "fallback": fallback}


def push_image(c, repo, tag):
    """Push a config, a 1 KiB layer and an OCI manifest naming them as REPO:TAG.
    Returns the manifest's bytes and its two descriptors."""
    layer = os.urandom(1024)
    config = json.dumps({
        "architecture": "amd64",
        "os": "linux",
        "config": {},
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
    }, separators=(",", ":")).encode()
    descs = []
    for mt, body in ((OCI_CONFIG, config), (OCI_LAYER, layer)):
        dg = "sha256:" + hashlib.sha256(body).hexdigest()
        put_monolithic(c, repo, dg, body)
        descs.append({"mediaType": mt, "digest": dg, "size": len(body)})
    manifest = json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descs[0],
        "layers": [descs[1]],
    }, separators=(",", ":")).encode()
    put_manifest(c, repo, tag, manifest)
    return manifest, descs


def put_manifest(c, repo, tag, manifest):
    st, h, d = c.request("PUT", f"/v2/{repo}/manifests/{tag}", body=manifest,
                         headers={"Content-Type": OCI_MANIFEST})
    expect(st, (201,), f"PUT manifest {repo}:{tag}", d)


def cmd_image(base, repo, tag, authorization=None):
    c = Client(base, authorization)
    manifest, _ = push_image(c, repo, tag)
    st, h, d = c.request("GET", f"/v2/{repo}/manifests/{tag}",
                         headers={"Accept": OCI_MANIFEST})
    expect(st, (200,), "GET manifest", d)
    if d != manifest:
        raise BenchError("manifest read back differs from what was pushed")
    c.close()
    return {"digest": "sha256:" + hashlib.sha256(manifest).hexdigest(),
            "bytes": len(manifest)}


RETRIES = 5


def fan_out(base, conns, items, work, seconds=None):
    """Run work(client, item) for every item on CONNS threads, each with its own
    keep-alive connection (items dealt round robin). An item whose answer is a
    5xx is tried again, up to RETRIES times, after a short growing wait (as
    clients do). With SECONDS, no item is started once that long has passed.
    Returns the seconds taken, the number of retries and of items done."""
    conns = max(1, min(int(conns), len(items) or 1))
    errors = []
    retries = []
    done = []
    stop = time.perf_counter() + float(seconds) if seconds is not None else None

    def attempt(c, it):
        for i in range(RETRIES):
            try:
                return work(c, it)
            except ServerError:
                retries.append(1)
                time.sleep(0.01 * 2 ** i)
        return work(c, it)

    def run(part):
        c = Client(base)
        try:
            for it in part:
                if errors or (stop is not None and time.perf_counter() > stop):
                    return
                attempt(c, it)
                done.append(1)
        except (BenchError, OSError, http.client.HTTPException) as e:
            errors.append(e)
        finally:
            c.close()

    threads = [threading.Thread(target=run, args=(items[i::conns],)) for i in range(conns)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    t1 = time.perf_counter()
    if errors:
        raise errors[0]
    return t1 - t0, len(retries), len(done)


def tag_name(i):
    # zero-padded, so that the lexical order of the tags is their numeric order
    return f"t{i:07d}"


def made(secs, retries, done, wanted):
    return {"seconds": secs, "count": done, "retries": retries, "complete": done == wanted}


def cmd_tags(base, repo, first, count, conns, seconds=None):
    """Tag one manifest (pushed once, as tag_name(0)'s image if absent) as
    tag_name(FIRST) .. tag_name(FIRST + COUNT - 1)."""
    first, count = int(first), int(count)
    c = Client(base)
    st, h, d = c.request("GET", f"/v2/{repo}/manifests/{tag_name(0)}",
                         headers={"Accept": OCI_MANIFEST})
    if st == 200:
        manifest = d
    else:
        manifest, _ = push_image(c, repo, tag_name(0))
    c.close()
    names = [tag_name(i) for i in range(first, first + count) if i != 0]
    return made(*fan_out(base, conns, names, lambda cl, t: put_manifest(cl, repo, t, manifest), seconds),
                len(names))


def cmd_repos(base, prefix, first, count, conns, seconds=None):
    """Make repositories PREFIX/rNNNNNNN (FIRST .. FIRST + COUNT - 1), each with the
    image of PREFIX/src as tag v1: two cross-repository mounts and one manifest PUT."""
    first, count = int(first), int(count)
    src = f"{prefix}/src"
    c = Client(base)
    manifest, descs = push_image(c, src, "v1")
    c.close()

    def make(cl, name):
        for desc in descs:
            st, h, d = cl.request("POST", f"/v2/{name}/blobs/uploads/?mount={desc['digest']}&from={src}")
            expect(st, (201,), f"mount into {name}", d)
        put_manifest(cl, name, "v1", manifest)

    names = [f"{prefix}/r{i:07d}" for i in range(first, first + count)]
    return made(*fan_out(base, conns, names, make, seconds), len(names))


def cmd_ensure(base, repo, path, digest):
    c = Client(base)
    size = os.path.getsize(path)
    if blob_present(c, repo, digest, size):
        c.close()
        return {"pushed": False}
    with open(path, "rb") as f:
        loc = start_upload(c, repo)
        st, h, d = c.request("PUT", with_query(loc, "digest=" + digest), body=f,
                             headers={"Content-Type": OCTET, "Content-Length": str(size)})
        expect(st, (201,), "PUT blob", d)
    c.close()
    return {"pushed": True}


# name: (function, fewest arguments, most arguments)
COMMANDS = {
    "chunked": (cmd_chunked, 5, 5),
    "small": (cmd_small, 4, 4),
    "image": (cmd_image, 3, 4),
    "ensure": (cmd_ensure, 4, 4),
    "tags": (cmd_tags, 5, 6),
    "repos": (cmd_repos, 5, 6),
}


def main(argv):
    if len(argv) < 2 or argv[1] not in COMMANDS:
        sys.stderr.write(__doc__)
        return 2
    fn, least, most = COMMANDS[argv[1]]
    args = argv[2:]
    if not least <= len(args) <= most:
        sys.stderr.write(__doc__)
        return 2
    try:
        out = fn(*args)
    except (BenchError, OSError, http.client.HTTPException) as e:
        sys.stderr.write(f"client.py {argv[1]}: {e}\n")
        return 1
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
