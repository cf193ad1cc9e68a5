#!/usr/bin/env bash
# Metrics and health: /healthz, /readyz (and 503 when the store cannot be
# written), /metrics checked line by line by a strict parser of the
# Prometheus text format 0.0.4, its counters against the requests this test
# made (requests by route and code, an upload, logins by result and reason,
# tokens issued), and who may read it (loopback only by default, any, off).
. "$(dirname "$0")/lib.sh"
berth_start

# ---- a strict parser of the Prometheus text exposition format
cat >"$WORK/prom.py" <<'EOF'
"""prom.py check FILE OUT.json: validate FILE, write its samples to OUT.json.
prom.py get OUT.json NAME [k=v ...]: print the sum of the matching samples (0 if none)."""
import json, math, re, sys

NAME = re.compile(r'[a-zA-Z_:][a-zA-Z0-9_:]*')
LABEL = re.compile(r'[a-zA-Z_][a-zA-Z0-9_]*')
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


def fail(n, line, why):
    sys.exit("line %d: %s: %r" % (n, why, line[:200]))


def parse_value(n, line, s):
    if s in ("+Inf", "-Inf", "NaN"):
        return float(s.replace("Inf", "inf").replace("NaN", "nan"))
    if not re.fullmatch(r'[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?', s):
        fail(n, line, "bad value %r" % s)
    return float(s)


def parse_labels(n, line, s, i):
    """s[i] == '{'; returns (labels, index after '}')."""
    labels = {}
    i += 1
    while True:
        if s[i:i + 1] == "}":
            return labels, i + 1
        m = LABEL.match(s, i)
        if not m:
            fail(n, line, "bad label name")
        name = m.group(0)
        if name.startswith("__"):
            fail(n, line, "reserved label name " + name)
        if name in labels:
            fail(n, line, "label %s twice" % name)
        i = m.end()
        if s[i:i + 2] != '="':
            fail(n, line, "label %s without =\"" % name)
        i += 2
        val = []
        while True:
            if i >= len(s):
                fail(n, line, "unterminated label value")
            c = s[i]
            if c == "\\":
                nxt = s[i + 1:i + 2]
                if nxt not in ("\\", '"', "n"):
                    fail(n, line, "bad escape \\" + nxt)
                val.append("\n" if nxt == "n" else nxt)
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                fail(n, line, "raw newline in label value")
            else:
                val.append(c)
                i += 1
        labels[name] = "".join(val)
        if s[i:i + 1] == ",":
            i += 1
        elif s[i:i + 1] != "}":
            fail(n, line, "expected , or } after a label")


def family_of(name, types):
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and types.get(name[: -len(suf)]) == "histogram":
            return name[: -len(suf)]
    return name


def check(path, out):
    text = open(path, encoding="utf-8").read()
    if not text.endswith("\n"):
        sys.exit("the exposition does not end with a newline")
    types, helps, samples, seen_series = {}, set(), [], set()
    done, current = set(), None  # families already closed; the family being read
    for n, line in enumerate(text[:-1].split("\n"), 1):
        if line == "":
            fail(n, line, "empty line")
        if line.startswith("#"):
            m = re.fullmatch(r'# (HELP|TYPE) (\S+) ?(.*)', line)
            if not m:
                fail(n, line, "a comment that is not # HELP or # TYPE")
            kind, name, rest = m.groups()
            if not NAME.fullmatch(name):
                fail(n, line, "bad metric name")
            if name != current:
                if name in done:
                    fail(n, line, "%s appears again after other families" % name)
                if current:
                    done.add(current)
                current = name
            if kind == "HELP":
                if name in helps:
                    fail(n, line, "second HELP for " + name)
                if re.search(r'\\[^\\n]', rest):
                    fail(n, line, "bad escape in HELP")
                helps.add(name)
            else:
                if name in types:
                    fail(n, line, "second TYPE for " + name)
                if rest not in TYPES:
                    fail(n, line, "unknown type " + rest)
                if any(s[3] == name for s in samples):
                    fail(n, line, "TYPE after samples of " + name)
                types[name] = rest
            continue
        m = NAME.match(line)
        if not m:
            fail(n, line, "bad metric name")
        name, i, labels = m.group(0), m.end(), {}
        if line[i:i + 1] == "{":
            labels, i = parse_labels(n, line, line, i)
        if line[i:i + 1] != " ":
            fail(n, line, "expected one space before the value")
        parts = line[i + 1:].split(" ")
        if len(parts) not in (1, 2) or "" in parts:
            fail(n, line, "expected VALUE [TIMESTAMP]")
        value = parse_value(n, line, parts[0])
        if len(parts) == 2 and not re.fullmatch(r'-?\d+', parts[1]):
            fail(n, line, "bad timestamp")
        fam = family_of(name, types)
        if fam not in types:
            fail(n, line, "sample before the TYPE of its family")
        if fam != current:
            fail(n, line, "sample of %s outside its family's block (in %s)" % (fam, current))
        key = (name, tuple(sorted(labels.items())))
        if key in seen_series:
            fail(n, line, "the same series twice")
        seen_series.add(key)
        if types[fam] == "counter" and not (value >= 0):
            fail(n, line, "a negative counter")
        if types[fam] == "histogram" and name == fam:
            fail(n, line, "histogram sample without _bucket/_sum/_count")
        samples.append((name, labels, value, fam))
    # histograms: cumulative buckets ending at +Inf == _count, and a _sum
    for fam, t in types.items():
        if t != "histogram":
            continue
        groups = {}
        for name, labels, value, f in samples:
            if f != fam:
                continue
            base = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            g = groups.setdefault(base, {"buckets": [], "sum": None, "count": None})
            if name == fam + "_bucket":
                if "le" not in labels:
                    sys.exit("%s%s: bucket without le" % (name, labels))
                g["buckets"].append((labels["le"], value))
            elif "le" in labels:
                sys.exit("%s%s: le on a non-bucket sample" % (name, labels))
            elif name == fam + "_sum":
                g["sum"] = value
            else:
                g["count"] = value
        for base, g in groups.items():
            b = g["buckets"]
            if not b or b[-1][0] != "+Inf":
                sys.exit("%s %s: the last bucket is not le=\"+Inf\"" % (fam, base))
            les = [parse_value(0, "", le) for le, _ in b]
            if les != sorted(les) or len(set(les)) != len(les):
                sys.exit("%s %s: le bounds are not increasing" % (fam, base))
            vals = [v for _, v in b]
            if vals != sorted(vals):
                sys.exit("%s %s: buckets are not cumulative" % (fam, base))
            if g["count"] is None or g["sum"] is None:
                sys.exit("%s %s: no _count or no _sum" % (fam, base))
            if g["count"] != vals[-1]:
                sys.exit("%s %s: +Inf bucket %s != _count %s" % (fam, base, vals[-1], g["count"]))
    for fam in types:
        if fam not in helps:
            sys.exit("no HELP for " + fam)
    json.dump([[s[0], s[1], s[2]] for s in samples], open(out, "w"))
    print("%d families, %d samples" % (len(types), len(samples)))


def get(path, name, want):
    total = 0.0
    for n, labels, value in json.load(open(path)):
        if n == name and all(labels.get(k) == v for k, v in want.items()):
            total += value
    print(int(total) if total == int(total) else total)


if sys.argv[1] == "check":
    check(sys.argv[2], sys.argv[3])
else:
    get(sys.argv[2], sys.argv[3], dict(a.split("=", 1) for a in sys.argv[4:]))
EOF

# scrape TAG: GET /metrics into $WORK/TAG.txt, parse it strictly into $WORK/TAG.json.
scrape() {
    local out
    req GET /metrics
    cp "$BODY" "$WORK/$1.txt"
    if [ "$STATUS" != 200 ]; then
        fail "GET /metrics ($1) is 200" "got $STATUS"
        return 1
    fi
    if out=$(python3 "$WORK/prom.py" check "$WORK/$1.txt" "$WORK/$1.json" 2>&1); then
        ok "/metrics ($1) is valid Prometheus text format ($out)"
    else
        fail "/metrics ($1) is valid Prometheus text format" "$out"
        echo '[]' >"$WORK/$1.json"
    fi
}
# metric TAG NAME [label=value ...]: the value (summed over the other labels; 0 when absent).
metric() {
    local tag=$1
    shift
    python3 "$WORK/prom.py" get "$WORK/$tag.json" "$@"
}

# ---- health
req GET /healthz
expect_status 200 "GET /healthz is 200"
check "its body is {\"status\":\"ok\"}" jq -e '.status == "ok"' "$BODY"
req GET /readyz
expect_status 200 "GET /readyz is 200"
check "readyz names its three checks, all ok" \
    jq -e '.status == "ready" and .checks.store == "ok" and .checks.database == "ok" and .checks.keys == "ok"' "$BODY"

# ---- counters match the requests made
scrape before
expect_header Content-Type "text/plain; version=0.0.4" "/metrics has the Prometheus text content type"
for _ in 1 2 3; do req GET /v2/; done
req GET /v2/no/such/path/anywhere/
rand_file "$WORK/blob" 5000
push_blob team/app "$WORK/blob"
expect_status 201 "a blob is pushed (POST + PUT)"
scrape after
b0=$(metric before berth_http_requests_total route=base code=200)
b1=$(metric after berth_http_requests_total route=base code=200)
expect_eq "requests_total{route=base,code=200} grew by exactly the 3 GET /v2/ made" 3 $((b1 - b0))
h0=$(metric before berth_http_request_duration_seconds_count route=base)
h1=$(metric after berth_http_request_duration_seconds_count route=base)
expect_eq "the base latency histogram counted the same 3" 3 $((h1 - h0))
expect_eq "one upload_post answered 202" 1 "$(metric after berth_http_requests_total route=upload_post code=202)"
expect_eq "one upload_put answered 201" 1 "$(metric after berth_http_requests_total route=upload_put code=201)"
expect_eq "the upload's 5000 bytes are counted in" 5000 "$(metric after berth_http_bytes_in_total route=upload_put)"
expect_eq "no upload is in progress afterwards" 0 "$(metric after berth_uploads_in_progress)"
n0=$(metric before berth_http_requests_total route=none)
n1=$(metric after berth_http_requests_total route=none code=404)
expect_eq "the unknown path counts under route none, code 404" 1 $((n1 - n0))
expect_eq "healthz and readyz are counted" 2 \
    $(( $(metric after berth_http_requests_total route=healthz code=200) + $(metric after berth_http_requests_total route=readyz code=200) ))
for m in berth_events_dropped_total berth_network_refusals_total berth_store_errors_total berth_db_errors_total; do
    check "$m is exposed" grep -q "^$m 0$" "$WORK/after.txt"
done
expect_eq "berth_registry_storage_bytes counts the pushed blob" 5000 \
    "$(metric after berth_registry_storage_bytes registry=default)"
expect_eq "berth_registry_repositories counts team/app" 1 "$(metric after berth_registry_repositories registry=default)"
expect_eq "no manifest, no tag yet" "0 0" \
    "$(metric after berth_registry_manifests registry=default) $(metric after berth_registry_tags registry=default)"
ver=$("$BERTH_BIN" version | awk '{print $2}')
expect_eq "berth_build_info names the version" 1 "$(metric after berth_build_info version="$ver")"
for f in $("$BERTH_BIN" doc metrics | sed -nE 's/^\| `([a-z_]+)` \|.*/\1/p'); do
    check "documented family $f has a TYPE line" grep -q "^# TYPE $f " "$WORK/after.txt"
done

# ---- who may read /metrics
req GET /metrics --interface 127.0.0.2
if [ "$STATUS" = 000 ]; then
    skip "cannot connect from 127.0.0.2 (curl rc $CURL_RC)"
else
    expect_error 403 DENIED "/metrics from 127.0.0.2 is 403 DENIED by default (loopback only)"
    req GET /healthz --interface 127.0.0.2
    expect_status 200 "/healthz answers any address"
fi

# ---- readyz fails when the store cannot be written. chmod does not stop
# root, so the uploads folder is swapped for a plain file instead.
mv "$DATA/uploads" "$DATA/uploads.away"
: >"$DATA/uploads"
code=$(curl -s -o "$WORK/ready.json" -w '%{http_code}' "$URL/readyz")
expect_eq "GET /readyz is 503 when uploads/ cannot take a file" 503 "$code"
check "the answer says unready, names the store, and the database and keys are still ok" \
    jq -e '.status == "unready" and .checks.store != "ok" and .checks.database == "ok" and .checks.keys == "ok"' \
    "$WORK/ready.json"
rm -f "$DATA/uploads"
mv "$DATA/uploads.away" "$DATA/uploads"
req GET /readyz
expect_status 200 "GET /readyz is 200 again once the store is back"
check "no probe file is left in uploads/" bash -c "! ls -A '$DATA/uploads' | grep -q '^\\.ready'"
berth_stop

# ---- metrics-access
berth_start --metrics-access any
req GET /metrics --interface 127.0.0.2
if [ "$STATUS" != 000 ]; then expect_status 200 "metrics-access any: /metrics from 127.0.0.2 is 200"; fi
berth_stop
berth_start --metrics-access off
req GET /metrics
expect_error 403 DENIED "metrics-access off: /metrics from 127.0.0.1 is 403 DENIED"
berth_stop
if timeout 10 "$BERTH_BIN" serve --listen 127.0.0.1:0 --data "$DATA" --metrics-access sometimes >"$WORK/bad.out" 2>&1; then
    fail "metrics-access sometimes is refused at start"
else
    check "metrics-access sometimes is refused at start, naming the key" grep -q "metrics-access" "$WORK/bad.out"
fi

# ---- logins and tokens (with credentials required)
BERTH_AUTH=1 berth_start
PW=$(cat "$DATA/initial-owner-password" 2>/dev/null || true)
if [ -z "$PW" ]; then
    skip "no initial-owner-password in the reused data folder: login counters not checked"
else
    req GET /v2/ -u "owner:wrong-1"
    expect_error 401 UNAUTHORIZED "a wrong password is refused (1)"
    req GET /v2/ -u "owner:wrong-2"
    expect_error 401 UNAUTHORIZED "a wrong password is refused (2)"
    req GET "/oauth2/token?service=default.localhost&scope=repository:team/app:pull" -u "owner:$PW"
    expect_status 200 "the owner gets a token"
    scrape logins
    expect_eq "logins failure BAD_SECRET == 2" 2 "$(metric logins berth_logins_total result=failure reason=BAD_SECRET)"
    expect_eq "logins failure == 2 in all" 2 "$(metric logins berth_logins_total result=failure)"
    expect_eq "logins success == 1" 1 "$(metric logins berth_logins_total result=success)"
    expect_eq "one access token issued" 1 "$(metric logins berth_tokens_issued_total grant_type=access_token)"
    expect_eq "no refresh token issued" 0 "$(metric logins berth_tokens_issued_total grant_type=refresh_token)"
fi
finish
