#!/usr/bin/env bash
# Measures the Redactor side by side with the alternatives it was chosen
# over, in one `go test -bench` run: 1 MiB of JSON with 100 keys and every
# variant of each planted (about 1,600 plants), and the same JSON clean.
#
#   keyveil-exact                the q-gram filter alone (first pass)
#   keyveil-full                 Redact: both passes, merge, output (what the
#                                choke points run; unchanged by fragment
#                                matching, so it is also the number before it)
#   keyveil-fragment-pass        the fragment index alone: every run of 8+
#                                bytes of a variant
#   keyveil-full-fragments       RedactFragments: both passes, the fragment
#                                pass, the model's-text check, output (what
#                                the tools pipeline runs on an upstream body)
#   ahocorasick-dfa-overlapping  github.com/petar-dambovaliev/aho-corasick,
#                                DFA, ASCII case folding, overlapping matches
#   strings-replacer             strings.NewReplacer over every variant
#                                (exact case only: the weakest baseline)
#
# What a long secret costs the Redactor to build, and an OAuth token's
# Add and Forget beside an RSA client key, is BenchmarkRedactorAdd:
#
#   go test -run='^$' -bench=RedactorAdd -benchmem ./credentials
#
# Takes about a minute. COUNT and BENCHTIME override the defaults; the
# machine should be otherwise idle, since every result is wall-clock time.
#
#   scripts/bench-redact.sh
#   COUNT=10 BENCHTIME=2s scripts/bench-redact.sh
set -eu
cd "$(dirname "$0")/.."

COUNT=${COUNT:-5}
BENCHTIME=${BENCHTIME:-1s}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

go test -run='^$' -bench='^BenchmarkRedact$' -benchmem \
  -count="$COUNT" -benchtime="$BENCHTIME" ./credentials | tee "$out"

if command -v benchstat >/dev/null 2>&1; then
  echo
  benchstat "$out"
fi

# Median MB/s of each benchmark, and how many times faster the Redactor is.
echo
awk '
  /^BenchmarkRedact\// {
    name = $1; sub(/^BenchmarkRedact\//, "", name); sub(/-[0-9]+$/, "", name)
    for (i = 2; i <= NF; i++) if ($(i + 1) == "MB/s") v[name] = v[name] " " $i
  }
  function median(s,   a, n, i, j, t) {
    n = split(s, a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    printf "%-40s %12s\n", "median", "MB/s"
    for (k in v) { m[k] = median(v[k]); printf "%-40s %12.0f\n", k, m[k] | "sort" }
    close("sort")
    print ""
    for (t = 1; t <= 2; t++) {
      text = t == 1 ? "planted" : "clean"
      for (o = 1; o <= 2; o++) {
        other = o == 1 ? "ahocorasick-dfa-overlapping" : "strings-replacer"
        for (s = 1; s <= 2; s++) {
          self = s == 1 ? "keyveil-exact" : "keyveil-full"
          a = text "/" self; b = text "/" other
          if ((a in m) && (b in m) && m[b] > 0)
            printf "%-8s %-14s vs %-28s %7.1fx\n", text, self, other, m[a] / m[b]
        }
      }
    }
  }' "$out"
