#!/usr/bin/env python3
"""Summarise a results TSV written by bench/run.sh.

usage: summary.py RESULTS.tsv [RUNS]

Each line of the TSV is: run, server, key, value. Figures are reduced to the
median over runs; the ratio column is berth / peer ("berth only" for a
figure the peer cannot give in this setup).
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
    ("rss_idle_mib", "idle RSS", "MiB", "lower"),
    ("rss_peak_mib", "peak RSS (VmHWM)", "MiB", "lower"),
]

CEILINGS = [
    ("ceil_sha256_mbs", "sha256, one core (openssl speed)", "MB/s"),
    ("ceil_dd_mbs", "dd conv=fsync to the bench dir", "MB/s"),
]


def fmt(v):
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    vals = defaultdict(list)
    with open(argv[1]) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 4:
                continue
            _, server, key, value = parts
            try:
                vals[(server, key)].append(float(value))
            except ValueError:
                pass

    def med(server, key):
        v = vals.get((server, key))
        return statistics.median(v) if v else None

    def spread(server, key):
        v = vals.get((server, key))
        if not v or len(v) < 2:
            return ""
        m = statistics.median(v)
        if m == 0:
            return ""
        return f"+/-{100 * (max(v) - min(v)) / 2 / m:.0f}%"

    ceil = [(label, unit, med("-", key)) for key, label, unit in CEILINGS if med("-", key) is not None]
    if ceil:
        print("machine ceilings")
        for label, unit, v in ceil:
            print(f"  {label:<36} {fmt(v):>10} {unit}")
        print()

    runs = argv[2] if len(argv) > 2 else "?"
    head = ("figure", "unit", "peer", "", "berth", "", "berth/peer", "better")
    widths = (25, 8, 9, 6, 9, 6, 10, 6)
    line = "  ".join(h.ljust(w) if i < 2 or i == 7 else h.rjust(w)
                     for i, (h, w) in enumerate(zip(head, widths)))
    print(f"medians over {runs} run(s); peer = docker-registry; +/- is half the min-max spread")
    print(line)
    print("-" * len(line))
    for key, label, unit, better, *only in ROWS:
        p, b = med("peer", key), med("berth", key)
        if p is None and b is None:
            continue
        if only and only[0]:
            ratio = "berth only"
        else:
            ratio = f"{b / p:.2f}x" if p and b is not None else "-"
        cells = (label, unit, fmt(p), spread("peer", key), fmt(b), spread("berth", key), ratio, better)
        print("  ".join(c.ljust(w) if i < 2 or i == 7 else c.rjust(w)
                        for i, (c, w) in enumerate(zip(cells, widths))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
