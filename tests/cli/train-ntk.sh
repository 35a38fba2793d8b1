#!/bin/sh
# train --kernel ntk|nngp (issue 18): the usage errors, exactly; a model
# through every solver (direct, PCG with a spilled tile, Nystrom with
# every row a centre) predicting as the direct one does; the model file's
# KERN and DOTK sections and their fields as info shows them; the kernel
# field 2 where a 1.4 reader looks for it.
. "$top_srcdir/tests/cli/lib.sh"

# 300 rows of 20 uniform features (the NTK of a few smooth features is
# near-singular and the Nystrom normal equations, which square its
# condition number, would lose the 1e-4 agreement)
rows() {
    awk -v n="$1" -v seed="$2" 'BEGIN { srand(seed); printf "y";
      for (k = 0; k < 20; k++) printf ",x%d", k; print "";
      for (i = 0; i < n; i++) { s = 0; line = "";
        for (k = 0; k < 20; k++) { v = rand(); if (k < 3) s += v * v; line = line sprintf(",%.5f", v) }
        printf "%.5f%s\n", sin(3 * s), line } }'
}
rows 300 5 >w.csv
rows 2500 6 >big.csv
"$KMILL" convert -q w.csv -o w.kmx && "$KMILL" convert -q big.csv -o big.kmx || fail "convert"

# usage errors, exit 2, the message exactly
usage() {
    msg=$1; shift
    expect_status 2 "$KMILL" train "$@" w.kmx -o bad.kmm && expect_err_line "kmill train: $msg"
}
usage "--bandwidth applies only to --kernel laplace or gaussian: ntk has no bandwidth" \
    --kernel ntk --bandwidth 3
usage "--bandwidth applies only to --kernel laplace or gaussian: nngp has no bandwidth" \
    --kernel nngp --bandwidth 1,2
usage "--depth applies only to --kernel ntk or nngp" --depth 3
usage "--sw2 applies only to --kernel ntk or nngp" --kernel gaussian --sw2 1
usage "--rfm needs --kernel laplace or gaussian: the AGOP takes the gradient of a radial kernel, which ntk is not" \
    --kernel ntk --rfm
usage "--sw2 must be a positive number, not '0'" --kernel ntk --sw2 0
usage "--sb2 must be a non-negative number, not '-1'" --kernel ntk --sb2 -1
expect_status 2 "$KMILL" train --kernel ntk --depth 0 w.kmx -o bad.kmm &&
    expect_contains err "--depth"
expect_status 2 "$KMILL" train --kernel ntk --depth 65 w.kmx -o bad.kmm &&
    expect_contains err "--depth"
[ ! -e bad.kmm ] && pass || fail "a usage error wrote a model"

# within 'tol' relative (of values above 1, absolutely below) of exact.out
agree() {
    paste -d, exact.out "$1" | awk -F, -v tol="$2" 'NR > 1 { d = $1 - $2; if (d < 0) d = -d;
        s = $1 < 0 ? -$1 : $1; if (d > tol * (s > 1 ? s : 1)) bad++ } END { exit bad > 0 }' &&
        pass || fail "$1: predictions differ from the direct model's by more than $2"
}

# Nystrom with m = n is the exact model, up to the jitter j on K_mm (an
# extra ridge reg j on the coefficients): 1e-4 for the NTK; the NNGP's
# spectrum falls faster, to j's scale, and its m = n model differs by up
# to 5e-3 on these rows (as a Laplace kernel's does at a wide bandwidth)
for k in "ntk --depth 3:1e-4" "nngp --depth 2 --sw2 1.5 --sb2 0:1e-2"; do
    tol=${k#*:} k=${k%:*}
    # shellcheck disable=SC2086
    expect_status 0 "$KMILL" train --kernel $k --solver direct w.kmx -o exact.kmm &&
        expect_contains err "kernel=${k%% *} depth="
    "$KMILL" predict exact.kmm w.kmx >exact.out || fail "predict exact"
    for mode in cg gram; do
        # shellcheck disable=SC2086
        expect_status 0 "$KMILL" train --kernel $k --solver nystrom --centers 300 \
            --nystrom-mode $mode --passes 300 --tol 1e-8 w.kmx -o ny.kmm
        "$KMILL" predict ny.kmm w.kmx >ny.out || fail "predict ny"
        agree ny.out "$tol"
    done
done
expect_status 0 "$KMILL" info exact.kmm &&
    expect_contains out "kernel:     nngp, depth 2, sw2 1.5, sb2 0"
expect_status 0 "$KMILL" info --json exact.kmm &&
    expect_contains out '"kernel":"nngp","bandwidth":null,"depth":2,"sw2":1.5,"sb2":0,"reg":'
expect_status 0 "$KMILL" eval exact.kmm w.kmx && expect_contains out "rmse"

# PCG with a spilled tile: 2500 rows, its residual 1e-4 (float32 products)
# against direct's 1e-6, so 1e-3
mkdir sp
expect_status 0 "$KMILL" train --kernel ntk --depth 3 --solver direct big.kmx -o exact.kmm &&
    "$KMILL" predict exact.kmm big.kmx >exact.out || fail "direct 2500"
expect_status 0 "$KMILL" train -v --kernel ntk --depth 3 --solver pcg --rank 100 --threads 1 \
    --store spill --mem 72M --tmpdir sp big.kmx -o pcg.kmm &&
    expect_contains err "1 spilled (16.0 MiB)" &&
    expect_contains err "kernel=ntk depth=3 sw2=2 sb2=0.1 reg=0.001 solver=pcg"
"$KMILL" predict pcg.kmm big.kmx >pcg.out || fail "predict pcg"
agree pcg.out 1e-3
[ -z "$(ls -A sp)" ] && pass || fail "spill left behind: $(ls -A sp)"

# a reg grid searches the ridge alone: no bandwidths to try
# (and --log leaves the bandwidth field empty)
expect_status 0 "$KMILL" train --kernel ntk --reg 1e-3,1e-1 --val-frac 0.2 --log g.tsv w.kmx \
    -o g.kmm &&
    expect_contains err "chosen: reg=" && ! grep -q "bandwidths to try\|L=" err &&
    pass || fail "a bandwidth in the search of a dot-product kernel: $(cat err)"
[ "$(cut -f 1,2 g.tsv | sed -n 2,3p | tr '\t\n' '| ')" = "|0.001 |0.10000000000000001 " ] &&
    pass || fail "--log of a dot-product kernel: $(cat g.tsv)"

# the file: kernel field 2 (NTK) first in KERN, where a 1.4 reader reads it
# and refuses it ("kernel 2 is not 0 (Laplace) or 1 (Gaussian)"); DOTK
# holds depth, sw2, sb2
off() { od -An -v -tx1 "$1" | tr -d ' \n' | grep -bo "$2" | head -n 1 | cut -d: -f1; }
"$KMILL" train -q --kernel ntk --depth 3 --sb2 0.25 w.kmx -o f.kmm || fail "train f"
kern=$(off f.kmm 4b45524e) # "KERN" in hex; offsets in hex digits
dotk=$(off f.kmm 444f544b)
[ -n "$kern" ] && [ -n "$dotk" ] || fail "no KERN or DOTK section"
u32() { od -An -v -tu4 -j "$2" -N 4 "$1" | tr -d ' '; }
f64() { od -An -v -tf8 -j "$2" -N 8 "$1" | tr -d ' '; }
[ "$(u32 f.kmm $((kern / 2 + 12)))" = 2 ] && pass || fail "KERN's kernel field is not 2"
[ "$(u32 f.kmm $((dotk / 2 + 12)))" = 3 ] && [ "$(f64 f.kmm $((dotk / 2 + 24)))" = 0.25 ] &&
    pass || fail "DOTK's depth or sb2"
[ "$(od -An -v -tu2 -j 10 -N 2 f.kmm | tr -d ' ')" = 5 ] && pass || fail "minor version"

finish
