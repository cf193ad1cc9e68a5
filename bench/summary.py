#!/usr/bin/env python3
"""Summarise a results TSV written by bench/run.sh or bench/s3.sh.

usage: summary.py RESULTS.tsv [RUNS]          (bench/run.sh)
       summary.py --s3 RESULTS.tsv [RUNS]     (bench/s3.sh)

Each line of the TSV is: run, server, key, value. Figures are reduced to the
median over runs; the ratio column is berth / peer ("berth only" for a
figure the peer cannot give in this setup). With --s3 there are two berth
columns (one server, two behind nginx), the gateway's own speed as a ceiling,
and the metadata figures at a low and a high count with their ratio.
"""

import statistics
import sys
from collections import defaultdict

# key, label, unit, which direction is better[, berth only]
ROWS = [
    ("push_mbs", "monolithic push", "MB/s", "higher"),
    ("push_cpu_gib", "  server cpu", "s/GiB", "lower"),
    ("pull_mbs", "pull", "MB/s", "higher"),
    ("pull_cpu_gib", "  server cpu", "s/GiB", "lower"),
    ("conc_push_mbs", "concurrent push (-j)", "MB/s", "higher"),
    ("conc_push_cpu_gib", "  server cpu", "s/GiB", "lower"),
    ("conc_pull_mbs", "concurrent pull (-j)", "MB/s", "higher"),
    ("conc_pull_cpu_gib", "  server cpu", "s/GiB", "lower"),
    ("chunked_mbs", "chunked push", "MB/s", "higher"),
    ("chunked_cpu_gib", "  server cpu", "s/GiB", "lower"),
    ("small_ps", "small blob pushes", "push/s", "higher"),
    ("small_cpu_us", "  server cpu", "us/push", "lower"),
    ("get_manifest_rps", "GET manifest (wrk)", "req/s", "higher"),
    ("get_manifest_cpu_us", "  server cpu", "us/req", "lower"),
    ("head_manifest_rps", "HEAD manifest (ab)", "req/s", "higher"),
    ("head_manifest_cpu_us", "  server cpu", "us/req", "lower"),
    ("get_v2_rps", "GET /v2/ (wrk)", "req/s", "higher"),
    ("get_v2_cpu_us", "  server cpu", "us/req", "lower"),
    ("get_manifest_auth_rps", "get-manifest-auth (wrk)", "req/s", "higher"),
    ("get_manifest_auth_cpu_us", "  server cpu", "us/req", "lower"),
    ("head_manifest_auth_rps", "head-manifest-auth (ab)", "req/s", "higher"),
    ("head_manifest_auth_cpu_us", "  server cpu", "us/req", "lower"),
    ("get_manifest_bearer_rps", "get-manifest-bearer (wrk)", "req/s", "higher", True),
    ("get_manifest_bearer_cpu_us", "  server cpu", "us/req", "lower", True),
    ("token_refresh_rps", "token issue (wrk)", "req/s", "higher", True),
    ("token_refresh_cpu_us", "  server cpu", "us/req", "lower", True),
    ("rss_idle_mib", "idle RSS", "MiB", "lower"),
    ("rss_peak_mib", "peak RSS (VmHWM)", "MiB", "lower"),
]

CEILINGS = [
    ("ceil_sha256_mbs", "sha256, one core (openssl speed)", "MB/s"),
    ("ceil_dd_mbs", "dd conv=fsync to the bench dir", "MB/s"),
]

# the pull of the same file from nginx: the two ways it sends, and the
# registries measured against the better one
PULL_CEILING = [
    ("nginx-sendfile", "nginx, sendfile on"),
    ("nginx-copy", "nginx, sendfile off"),
]
PULL_SERVERS = [("peer", "peer"), ("berth", "berth")]

# bench/run.sh's scale phase: key prefix, label, what is counted; every
# figure is req/s (wrk GET, ab HEAD). head_tag is in a repository with one tag
# at the low count ("tagged").
RUN_META = [
    ("head_tag", "HEAD manifest by tag", "tagged"),
    ("head_repo", "HEAD manifest, N repos", "repos"),
    ("tags_first", "tags/list?n=100", "tags"),
    ("tags_deep", "tags/list?n=100&last=mid", "tags"),
    ("catalog", "_catalog?n=100", "repos"),
]


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


class Results:
    """The figures of one TSV: median and spread per (server, key)."""

    def __init__(self, path):
        self.vals = defaultdict(list)
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 4:
                    continue
                _, server, key, value = parts
                try:
                    self.vals[(server, key)].append(float(value))
                except ValueError:
                    pass

    def med(self, server, key):
        v = self.vals.get((server, key))
        return statistics.median(v) if v else None

    def spread(self, server, key):
        v = self.vals.get((server, key))
        if not v or len(v) < 2:
            return ""
        m = statistics.median(v)
        if m == 0:
            return ""
        return f"+/-{100 * (max(v) - min(v)) / 2 / m:.0f}%"


def table_line(cells, widths, left):
    """Cells padded to widths; the columns in left are left-aligned."""
    return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                     for i, (c, w) in enumerate(zip(cells, widths)))


def fmt_count(n):
    return f"{n:.0f}" if n is not None else "-"


def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    if argv[1] == "--s3":
        if len(argv) < 3:
            sys.stderr.write(__doc__)
            return 2
        return main_s3(Results(argv[2]), argv[3] if len(argv) > 3 else "?")
    res = Results(argv[1])
    med, spread = res.med, res.spread

    ceil = [(label, unit, med("-", key)) for key, label, unit in CEILINGS if med("-", key) is not None]
    if ceil:
        print("machine ceilings")
        for label, unit, v in ceil:
            print(f"  {label:<36} {fmt(v):>10} {unit}")
        print()

    runs = argv[2] if len(argv) > 2 else "?"
    head = ("figure", "unit", "peer", "", "berth", "", "berth/peer", "better")
    widths = (25, 8, 9, 6, 9, 6, 10, 6)
    line = table_line(head, widths, (0, 1, 7))
    rows = [r for r in ROWS if med("peer", r[0]) is not None or med("berth", r[0]) is not None]
    if rows:
        print(f"medians over {runs} run(s); peer = docker-registry; +/- is half the min-max spread")
        print(line)
        print("-" * len(line))
    for key, label, unit, better, *only in rows:
        p, b = med("peer", key), med("berth", key)
        if only and only[0]:
            rt = "berth only"
        else:
            rt = ratio(b, p)
        cells = (label, unit, fmt(p), spread("peer", key), fmt(b), spread("berth", key), rt, better)
        print(table_line(cells, widths, (0, 1, 7)))
    push_floor(res, runs)
    pull_ceiling(res, runs)
    meta_table(res, PULL_SERVERS, RUN_META)
    return 0


def push_floor(res, runs):
    """The monolithic push of each registry against bench/floor.py's push of
    the same blob (recv, hash, write, fsync: the least any server must do)
    and against the hash alone (openssl speed's rate as CPU per GiB)."""
    med, spread = res.med, res.spread
    floor = med("floor", "push_cpu_gib")
    if floor is None:
        return
    sha = med("-", "ceil_sha256_mbs")
    hash_gib = (1 << 30) / (sha * 1e6) if sha else None
    print()
    print(f"push against the floor (bench/floor.py: recv 1 MiB, sha256, write, fsync), medians over {runs} run(s)")
    if hash_gib:
        print(f"the hash alone costs {hash_gib:.2f} s/GiB (openssl speed)")
    head = ("server", "MB/s", "", "cpu s/GiB", "", "cpu/floor", "cpu/hash")
    widths = (20, 8, 6, 9, 6, 9, 8)
    line = table_line(head, widths, (0,))
    print(line)
    print("-" * len(line))
    for s, name in [("floor", "floor")] + PULL_SERVERS:
        v, cpu = med(s, "push_mbs"), med(s, "push_cpu_gib")
        if v is None:
            continue
        cells = (name, fmt(v), spread(s, "push_mbs"), fmt(cpu), spread(s, "push_cpu_gib"),
                 ratio(cpu, floor), ratio(cpu, hash_gib))
        print(table_line(cells, widths, (0,)))


def pull_ceiling(res, runs):
    """The pull of each registry and of nginx sending the same file, against
    the better nginx figure."""
    med, spread = res.med, res.spread
    ceil = max((v for v in (med(s, "pull_mbs") for s, _ in PULL_CEILING) if v is not None), default=None)
    if ceil is None:
        return
    print()
    print(f"pull against nginx serving the same file (ceiling: the better nginx figure), medians over {runs} run(s)")
    head = ("server", "MB/s", "", "cpu s/GiB", "", "of ceiling")
    widths = (20, 8, 6, 9, 6, 10)
    line = table_line(head, widths, (0,))
    print(line)
    print("-" * len(line))
    for s, name in PULL_CEILING + PULL_SERVERS:
        v = med(s, "pull_mbs")
        if v is None:
            continue
        cells = (name, fmt(v), spread(s, "pull_mbs"), fmt(med(s, "pull_cpu_gib")), spread(s, "pull_cpu_gib"),
                 ratio(v, ceil))
        print(table_line(cells, widths, (0,)))


# bench/s3.sh: key, label, unit, better, the gateway's ceiling key (or None)
S3_ROWS = [
    ("push_mbs", "monolithic push", "MB/s", "higher", "ceil_put_mbs"),
    ("push_cpu_gib", "  server cpu", "s/GiB", "lower", None),
    ("pull_mbs", "pull, 307 followed", "MB/s", "higher", "ceil_get_mbs"),
    ("pull_cpu_gib", "  server cpu", "s/GiB", "lower", None),
    ("pull_stream_mbs", "pull, streamed", "MB/s", "higher", "ceil_get_mbs"),
    ("pull_stream_cpu_gib", "  server cpu", "s/GiB", "lower", None),
    ("conc_push_mbs", "concurrent push (-j)", "MB/s", "higher", "ceil_put_mbs"),
    ("conc_push_cpu_gib", "  server cpu", "s/GiB", "lower", None),
    ("conc_pull_mbs", "concurrent pull (-j)", "MB/s", "higher", "ceil_get_mbs"),
    ("conc_pull_cpu_gib", "  server cpu", "s/GiB", "lower", None),
    ("chunked_mbs", "chunked push", "MB/s", "higher", "ceil_put_mbs"),
    ("chunked_cpu_gib", "  server cpu", "s/GiB", "lower", None),
    ("small_ps", "small blob pushes", "push/s", "higher", None),
    ("small_cpu_us", "  server cpu", "us/push", "lower", None),
]

S3_CEILINGS = [
    ("ceil_put_mbs", "PUT of the big blob (curl -T)", "MB/s"),
    ("ceil_get_mbs", "GET of the big blob", "MB/s"),
]

S3_SERVERS = [("peer", "peer"), ("berth", "berth"), ("berth2", "berth x2")]

# key prefix, label, what is counted; every figure is req/s (wrk GET, ab HEAD)
S3_META = [
    ("tags_first", "tags/list?n=100", "tags"),
    ("tags_deep", "tags/list?n=100&last=mid", "tags"),
    ("head_tag", "HEAD manifest by tag", "tags"),
    ("head_repo", "HEAD manifest", "repos"),
]


def main_s3(res, runs):
    med, spread = res.med, res.spread
    ceil = [(label, unit, key) for key, label, unit in S3_CEILINGS if med("gateway", key) is not None]
    if ceil:
        print(f"gateway ceiling (curl straight to a bucket), medians over {runs} run(s)")
        for label, unit, key in ceil:
            print(f"  {label:<36} {fmt(med('gateway', key)):>10} {unit}  {spread('gateway', key)}")
        print()

    head = ("figure", "unit", "gateway", "peer", "", "berth", "", "berth x2", "",
            "berth/peer", "x2/peer", "berth/gw", "x2/gw", "better")
    widths = (20, 7, 7, 7, 6, 7, 6, 8, 6, 10, 7, 8, 6, 6)
    left = (0, 1, 13)
    line = table_line(head, widths, left)
    print(f"medians over {runs} run(s); peer = docker-registry on S3; berth x2 = two berth servers"
          " behind nginx; +/- is half the min-max spread")
    print(line)
    print("-" * len(line))
    for key, label, unit, better, ceil_key in S3_ROWS:
        v = {s: med(s, key) for s, _ in S3_SERVERS}
        if all(x is None for x in v.values()):
            continue
        g = med("gateway", ceil_key) if ceil_key else None
        cells = (label, unit, fmt(g),
                 fmt(v["peer"]), spread("peer", key),
                 fmt(v["berth"]), spread("berth", key),
                 fmt(v["berth2"]), spread("berth2", key),
                 ratio(v["berth"], v["peer"]), ratio(v["berth2"], v["peer"]),
                 ratio(v["berth"], g), ratio(v["berth2"], g), better)
        print(table_line(cells, widths, left))

    meta_table(res, S3_SERVERS, S3_META)
    return 0


def meta_table(res, servers, rows):
    """Metadata cost against count: each row of ROWS (key prefix, label, what
    is counted) at the low and the high count on each of SERVERS, and how the
    tags and repositories were made."""
    med, spread = res.med, res.spread
    meta = []
    for key, label, what in rows:
        for s, name in servers:
            lv = {}
            for level in ("lo", "hi"):
                lv[level] = (med(s, f"{what}_{level}_count"), med(s, f"{key}_{level}_rps"),
                             spread(s, f"{key}_{level}_rps"), med(s, f"{key}_{level}_seq_ms"))
            if all(v[1] is None and v[3] is None for v in lv.values()):
                continue
            meta.append((label, name, lv["lo"], lv["hi"]))
    if not meta:
        return
    print()
    print("metadata cost against count, at a low and a high count: req/s under wrk/ab, and ms of one"
          " request alone (median of 3);")
    print("flat is 1.00 in both ratio columns (rate: high/low, time: high/low)")
    head = ("figure", "server", "count", "req/s", "", "ms", "count", "req/s", "", "ms", "rate", "time")
    widths = (24, 8, 7, 7, 6, 7, 7, 7, 6, 7, 6, 6)
    left = (0, 1)
    line = table_line(head, widths, left)
    print(line)
    print("-" * len(line))
    for label, name, lo, hi in meta:
        cells = (label, name, fmt_count(lo[0]), fmt(lo[1]), lo[2], fmt(lo[3]),
                 fmt_count(hi[0]), fmt(hi[1]), hi[2], fmt(hi[3]), ratio(hi[1], lo[1]), ratio(hi[3], lo[3]))
        print(table_line(cells, widths, left))
    fills = []
    for s, name in servers:
        for what in ("tags", "repos"):
            for lv in ("lo", "hi"):
                v = med(s, f"{what}_fill_{lv}_ps")
                if v is not None:
                    retried = med(s, f"{what}_fill_{lv}_retries")
                    again = f" ({retried:.0f} retried after a 5xx)" if retried else ""
                    fills.append(f"{name} {what} to {lv} {fmt(v)}/s{again}")
    if fills:
        print("made through the API at: " + ", ".join(fills))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
