#!/bin/sh
# tests/cli/plan.sh - the memory planner's estimates against the peak RSS
# of runs large enough for them to dominate (300-600 MiB): a direct solve,
# PCG with the kernel tiles filling --mem, an RFM (its AGOP pass), and a
# prediction with a large kernel block. Every job logs its plans at -v
# ("plan: JOB: SIZE of --mem ..."); the largest must be within 15% of the
# peak resident set size that /usr/bin/time -v reports. The Nystrom
# solver's plans too.
. "$top_srcdir/tests/cli/lib.sh"
if [ -n "${SAN_CFLAGS:-}" ]; then
    # AddressSanitizer's shadow memory and quarantine are most of the RSS
    echo "a sanitizer build: its peak RSS is not kmill's own"
    exit 77
fi
if ! /usr/bin/time -v true >/dev/null 2>&1; then
    echo "/usr/bin/time not found: apt-get install time"
    exit 77
fi

# N rows of 20 random features and a class: awk's rand, seeded
rows() {
    awk -v n="$1" -v seed="$2" 'BEGIN {
        srand(seed)
        for (j = 0; j < 20; j++) printf "x%d,", j
        print "y"
        for (i = 0; i < n; i++) {
            s = 0
            for (j = 0; j < 20; j++) { v = rand() * 2 - 1; printf "%.4f,", v; if (j < 2) s += v }
            print (s > 0)
        }
    }'
}
rows 5000 1 >d5k.csv
rows 16000 2 >d16k.csv
"$KMILL" convert -q d5k.csv -o d5k.kmx && "$KMILL" convert -q d16k.csv -o d16k.kmx || fail convert

# the largest plan a run logged, in MiB
planned() {
    sed -n 's/.*: plan: [^:]*: \([0-9.]*\) \([KMG]\)iB of --mem.*/\1 \2/p' "$1" |
        awk '{ v = $1 * ($2 == "G" ? 1024 : $2 == "K" ? 1 / 1024 : 1); if (v > m) m = v }
             END { printf "%.1f", m }'
}
peak() { # MiB
    sed -n 's/.*Maximum resident set size (kbytes): \([0-9]*\)/\1/p' "$1" |
        awk '{ printf "%.1f", $1 / 1024 }'
}

# check NAME CMD...: run CMD under time -v at -v, compare
check() {
    name=$1; shift
    if ! /usr/bin/time -v "$@" >/dev/null 2>"$name.err"; then
        fail "$name: exited non-zero: $(grep kmill "$name.err" | head -c 400)"
        return
    fi
    p=$(planned "$name.err") r=$(peak "$name.err")
    echo "$name: planned $p MiB, peak RSS $r MiB"
    awk -v p="$p" -v r="$r" 'BEGIN { exit !(p > 0 && r > 0 && (p - r) / r <= 0.15 && (r - p) / r <= 0.15) }' &&
        pass || fail "$name: planned $p MiB, peak RSS $r MiB: more than 15% apart"
}

check direct "$KMILL" train -v --threads 2 d5k.kmx -o direct.kmm
check pcg "$KMILL" train -v --threads 2 --solver pcg --rank 500 --mem 500M --tmpdir . d16k.kmx -o pcg.kmm
check rfm "$KMILL" train -v --threads 2 --rfm --iters 1 --solver direct --val-frac 0.05 d5k.kmx -o rfm.kmm
check predict "$KMILL" predict -v --threads 2 pcg.kmm d16k.kmx
# the Nystrom solver's m^2 arrays, both modes (planned before the fit: a
# numeric label is taken for up to 32 classes)
for mode in cg gram; do
    check nystrom-$mode "$KMILL" train -v --threads 2 --solver nystrom --centers 3000 \
        --nystrom-mode $mode --passes 3 d16k.kmx -o ny.kmm
done
finish
