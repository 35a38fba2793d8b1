#!/bin/sh
# tests/bench/gen.sh [KMILL] [WORKDIR] - kmill gen throughput and memory.
#
# For N rows (default 2000000) of D columns (default 32) of each preset:
# rows/s, MB/s of file written and MB/s of the float32 values it holds,
# as CSV and as .kmx (best of 3, output removed
# before each run so the rename does not free the old file's blocks inside
# the timing), then peak RSS (/usr/bin/time -v) at N/10 and N rows, which
# should be the same: memory does not grow with the row count.
set -eu
K=${1:-$(dirname "$0")/../../src/kmill}
K=$(cd "$(dirname "$K")" && pwd)/$(basename "$K")
W=${2:-${TMPDIR:-/tmp}/kmill-bench-gen}
N=${N:-2000000}
D=${D:-32}
mkdir -p "$W"
cd "$W"

now() { date +%s.%N; }

# best of 3: seconds and bytes of `kmill gen PRESET ... -o OUT`
run() { # PRESET OUT
    best=
    for i in 1 2 3; do
        rm -f "$2"
        t0=$(now)
        "$K" gen "$1" -q -n "$N" -d "$D" -o "$2"
        t=$(echo "$(now) - $t0" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
    done
    bytes=$(stat -c %s "$2")
    printf '%-9s %-4s %8d rows x %d: %6.2f s %9.0f rows/s %5.0f MB/s of file (%s MB), %5.0f MB/s of float32\n' \
        "$1" "${2##*.}" "$N" "$D" "$best" "$(echo "$N / $best" | bc -l)" \
        "$(echo "$bytes / $best / 1000000" | bc -l)" "$((bytes / 1000000))" \
        "$(echo "$N * ($D + 1) * 4 / $best / 1000000" | bc -l)"
}

for p in lowrank subspace mixture; do
    run $p gen.csv
    run $p gen.kmx
done
rm -f gen.csv gen.kmx

rss() { # ROWS OUT
    /usr/bin/time -v "$K" gen lowrank -q -n "$1" -d "$D" -o "$2" 2>&1 >/dev/null |
        sed -n 's/.*Maximum resident set size (kbytes): //p'
}
for out in gen.csv gen.kmx; do
    small=$(rss $((N / 10)) $out)
    big=$(rss "$N" $out)
    printf 'peak RSS %-4s: %8d rows %7d KiB, %8d rows %7d KiB\n' "${out##*.}" $((N / 10)) \
        "$small" "$N" "$big"
done
rm -f gen.csv gen.kmx
