#!/usr/bin/env python3
"""The push floor for bench/run.sh: the least a server must do to store a blob.

usage: floor.py PORT DIR

Listens on 127.0.0.1:PORT. Each connection carries one PUT with a
Content-Length; its body is read with recv into one 1 MiB buffer, hashed with
SHA-256 (hashlib: OpenSSL, as berth), written to a temp file in DIR as it
comes, fsync'ed and renamed to its digest. The answer is 201 with the digest
in Docker-Content-Digest. bench/run.sh removes the stored file before the
next push, as it deletes the registries' blobs.

No HTTP parsing beyond the request line and Content-Length, no database, no
upload session: its CPU per GiB is what receiving, hashing and writing cost
on this machine, the figure a registry's push is held against.
"""

import hashlib
import os
import socket
import sys

BUF = 1 << 20
HEAD_MAX = 65536


def answer(conn, status, headers=()):
    lines = [f"HTTP/1.1 {status}", "Content-Length: 0", "Connection: close", *headers]
    conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())


def read_head(conn):
    """The request head and the body bytes that came with it."""
    head = b""
    while b"\r\n\r\n" not in head:
        if len(head) > HEAD_MAX:
            return None, b""
        got = conn.recv(65536)
        if not got:
            return None, b""
        head += got
    head, _, rest = head.partition(b"\r\n\r\n")
    return head.decode("latin-1").split("\r\n"), rest


def serve_one(conn, folder, buf):
    lines, rest = read_head(conn)
    if not lines or not lines[0].startswith("PUT "):
        answer(conn, "400 Bad Request")
        return
    length = None
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == "content-length":
            length = int(value.strip())
    if length is None or len(rest) > length:
        answer(conn, "411 Length Required")
        return
    tmp = os.path.join(folder, ".upload")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        sha = hashlib.sha256(rest)
        os.write(fd, rest)
        got = len(rest)
        view = memoryview(buf)
        while got < length:
            n = conn.recv_into(view, min(BUF, length - got))
            if n == 0:
                return
            sha.update(view[:n])
            os.write(fd, view[:n])
            got += n
        os.fsync(fd)
    finally:
        os.close(fd)
    digest = sha.hexdigest()
    os.rename(tmp, os.path.join(folder, digest))
    answer(conn, "201 Created", [f"Docker-Content-Digest: sha256:{digest}"])


def main(argv):
    if len(argv) != 3:
        sys.stderr.write(__doc__)
        return 2
    port, folder = int(argv[1]), argv[2]
    os.makedirs(folder, exist_ok=True)
    buf = bytearray(BUF)
    with socket.socket() as ls:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", port))
        ls.listen(8)
        while True:
            conn, _ = ls.accept()
            with conn:
                try:
                    serve_one(conn, folder, buf)
                except (OSError, ValueError) as e:
                    sys.stderr.write(f"floor: {e}\n")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
