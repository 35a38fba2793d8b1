#!/bin/sh
# train --solver nystrom (issue 17): with every row a centre the model is
# the exact one (predictions against --solver direct, relative 1e-4); CG
# and the Gram pass agree; a dataset in one chunk or many, 1 or 2
# threads, the same model bits; the validation split by row hash; the
# RFM on centres; predict and eval on a centre model; and the errors: bad
# --centers, --mem too small for m centres (the largest m that fits), a
# read error, a corrupted and a truncated chunk in the middle of a pass
# (the chunk named, exit 1, no model written).
. "$top_srcdir/tests/cli/lib.sh"

# regression: y = sin(3a) + b^2 - c, 300 rows, 4 columns
awk 'BEGIN { srand(11); print "a,b,c,y";
  for (i = 0; i < 300; i++) { a = rand(); b = rand(); c = rand();
    printf "%.6f,%.6f,%.6f,%.6f\n", a, b, c, sin(3 * a) + b * b - c } }' >reg.csv
"$KMILL" convert -q reg.csv -o reg.kmx || fail "convert reg.csv"
"$KMILL" convert -q --chunk-rows 64 reg.csv -o reg64.kmx || fail "convert --chunk-rows"

# m = n: the exact model. The Nystrom normal equations K (K + reg I) square
# the kernel's condition number, so the equality holds to 1e-4 where K is
# not near-singular: a narrow bandwidth (at the default L = 10 on these
# rows the two differ by a few percent, rounding of a 1e14-conditioned
# system, not a wrong model)
expect_status 0 "$KMILL" train --solver direct --bandwidth 0.1 reg.kmx -o exact.kmm
for mode in cg gram; do
    expect_status 0 "$KMILL" train --solver nystrom --centers 300 --nystrom-mode $mode \
        --bandwidth 0.1 --passes 300 --tol 1e-8 --early-stop 0 reg.kmx -o ny-$mode.kmm &&
        expect_contains err "solver=nystrom-$mode" && expect_contains err " rows=300 passes="
    "$KMILL" predict ny-$mode.kmm reg.kmx >ny-$mode.out || fail "predict ny-$mode"
done
"$KMILL" predict exact.kmm reg.kmx >exact.out || fail "predict exact"
for mode in cg gram; do
    paste -d, exact.out ny-$mode.out | awk -F, 'NR > 1 { d = $1 - $2; if (d < 0) d = -d;
        s = $1 < 0 ? -$1 : $1; if (d > 1e-4 * (s > 1 ? s : 1)) bad++ } END { exit bad > 0 }' &&
        pass || fail "$mode predictions differ from the exact model's"
done

# the early stop: conjugate gradients end once 2 iterations in a row have
# not raised the training figure on the sampled rows; --early-stop 0 runs
# them to --passes (the residual not reaching --tol 1e-12 in 20)
expect_status 0 "$KMILL" train -v --solver nystrom --nystrom-mode cg --centers 50 --passes 20 \
    --tol 1e-12 reg.kmx -o es.kmm &&
    expect_contains err "(2 without gain)" &&
    grep 'solver=nystrom-cg' err | grep -qv ' iters=20 ' && pass ||
    fail "conjugate gradients did not stop early"
expect_status 0 "$KMILL" train -v --solver nystrom --nystrom-mode cg --centers 50 --passes 20 \
    --tol 1e-12 --early-stop 0 reg.kmx -o es.kmm &&
    expect_contains err " iters=20 " && expect_not_contains err "without gain"
# the refit on training and validation rows has no figure to watch: it
# runs at most the iterations the chosen solve stopped at
expect_status 0 "$KMILL" train -v --solver nystrom --nystrom-mode cg --centers 50 --passes 20 \
    --tol 1e-12 --val-frac 0.2 --refit reg.kmx -o es.kmm
chosen=$(sed -n 's/.*(solve [0-9.]*s, \([0-9]*\) iterations)$/\1/p' err)
refit=$(sed -n 's/.*solver=nystrom-cg iters=\([0-9]*\) .*/\1/p' err)
[ -n "$chosen" ] && [ "$chosen" -lt 20 ] && [ "$refit" = "$chosen" ] && pass ||
    fail "refit ran $refit iterations, the chosen solve $chosen"
expect_status 2 "$KMILL" train --early-stop -1 reg.kmx -o es.kmm &&
    expect_contains err "--early-stop"

# one chunk or many, 1 or 2 threads: the same coefficients
"$KMILL" train -q --solver nystrom --centers 50 reg.kmx --threads 1 -o a.kmm &&
    "$KMILL" train -q --solver nystrom --centers 50 reg64.kmx --threads 2 -o b.kmm ||
    fail "train a/b"
"$KMILL" predict --scores a.kmm reg.kmx >a.out && "$KMILL" predict b.kmm reg.kmx >b.out &&
    cmp -s a.out b.out && pass || fail "chunking or threads changed the model"

# info on a centre model
expect_status 0 "$KMILL" info a.kmm &&
    expect_contains out "centres:    50, Nystrom, drawn from 300 rows (" &&
    expect_contains out "solver:     nystrom-"
expect_status 0 "$KMILL" info --json a.kmm && expect_contains out '"nystrom":{"rows":300,"passes":'

# the validation share by hash, a grid, eval on the centre model
expect_status 0 "$KMILL" train --solver nystrom --centers 40 --reg 1e-3,1e-1 --val-frac 0.2 \
    reg.kmx -o g.kmm && expect_contains err "validation rows; refitted on both)"
expect_status 0 "$KMILL" eval g.kmm reg.kmx && expect_contains out "rmse"

# the RFM on centres finds the hidden subspace: the top two eigenvectors of
# M span the truth's two directions (the cosines of the principal angles,
# the singular values of V'U, computed here in awk, at least 0.95; the
# directions of another seed give about 0.4)
angles() {
    "$KMILL" features --json --top 2 "$1" | sed 's/.*"eigen"://' |
        tr '[' '\n' | sed -n 's/^\([-0-9.e,]*\)\].*/\1/p' | tr ',' ' ' >v.txt
    sed -n '/^directions /{n;p;n;p}' "$2" >u.txt
    awk 'NR == FNR { for (i = 1; i <= NF; i++) v[FNR, i] = $i; d = NF; next }
         { for (i = 1; i <= NF; i++) u[FNR, i] = $i }
         END { for (a = 1; a <= 2; a++) for (b = 1; b <= 2; b++) { s = 0;
                 for (i = 1; i <= d; i++) s += v[a, i] * u[b, i]; p[a, b] = s }
               A = p[1,1]^2 + p[2,1]^2; C = p[1,2]^2 + p[2,2]^2; B = p[1,1]*p[1,2] + p[2,1]*p[2,2];
               lo = (A + C) / 2 - sqrt(((A - C) / 2)^2 + B^2); print sqrt(lo < 0 ? 0 : lo) }' v.txt u.txt
}
"$KMILL" gen subspace -q --intrinsic 2 --degree 2 -n 20000 -d 16 --seed 3 -o sub.kmx \
    --truth sub.truth || fail "gen subspace"
for mode in gram cg; do
    expect_status 0 "$KMILL" train --solver nystrom --nystrom-mode $mode --rfm --iters 2 \
        --kernel gaussian --scale none --centers 600 sub.kmx -o rfm-$mode.kmm
    cosine=$(angles rfm-$mode.kmm sub.truth)
    awk -v c="$cosine" 'BEGIN { exit !(c >= 0.95) }' && pass ||
        fail "$mode: the RFM's subspace is at cosine '$cosine' from the truth's"
done
"$KMILL" gen subspace -q --intrinsic 2 --degree 2 -n 10 -d 16 --seed 4 -o other.csv \
    --truth other.truth || fail "gen other"
cosine=$(angles rfm-gram.kmm other.truth)
awk -v c="$cosine" 'BEGIN { exit !(c < 0.8) }' && pass || fail "another seed's directions at $cosine"
# a diagonal M with the Laplace kernel
expect_status 0 "$KMILL" train --solver nystrom --rfm --iters 1 --diag --centers 300 sub.kmx \
    -o diag.kmm && expect_status 0 "$KMILL" info diag.kmm &&
    expect_contains out "M:          diagonal, 16 entries"

# a validation file, a grid logged: one line a ridge, the file's rows
# scored and joined in the refit
head -n 201 reg.csv >tr.csv
{ head -n 1 reg.csv; tail -n 100 reg.csv; } >va.csv
expect_status 0 "$KMILL" train --solver nystrom --centers 50 --reg 1e-3,1e-2,1e-1 --val va.csv \
    --log ny.tsv tr.csv -o v.kmm &&
    expect_contains err "200 training, 100 validation rows; refitted on both)" &&
    expect_contains err " rows=300 passes="
[ "$(wc -l <ny.tsv)" -eq 4 ] && [ "$(cut -f 2 ny.tsv | tail -n +2 | tr '\n' ' ')" = "0.001 0.01 0.10000000000000001 " ] &&
    pass || fail "the log: $(cat ny.tsv)"
# identifiers are warned of as by the exact solver (from the first rows)
awk 'BEGIN { srand(1); print "Id,a,name,y"; for (i = 0; i < 100; i++)
             print int(1000000 + rand() * 900000) "," rand() ",n" i "," (rand() > 0.5 ? "p" : "q") }' >idd.csv
expect_status 0 "$KMILL" train --solver nystrom --centers 20 idd.csv -o idd.kmm &&
    expect_contains err "kmill train: warning: column 'Id' looks like an identifier (a different integer in every row), which a kernel machine cannot use; --drop Id if it is one" &&
    expect_contains err "kmill train: warning: column 'name' looks like an identifier (a different value in every row), which a kernel machine cannot use; --drop name if it is one"
# a validation file with other columns is a mix-up, refused before the passes
cut -d, -f 1,2,4 va.csv >va3.csv
expect_status 2 "$KMILL" train --solver nystrom --centers 50 --val va3.csv tr.csv -o v3.kmm &&
    expect_err_line "kmill train: the validation data va3.csv lacks the training data's column 'c'"

# bad --centers
expect_status 2 "$KMILL" train --solver nystrom --centers 0 reg.kmx -o x.kmm &&
    expect_err_line "kmill train: invalid --centers '0' (expected an integer from 1 to 1000000)"
expect_status 2 "$KMILL" train --solver nystrom --centers 301 reg.kmx -o x.kmm &&
    expect_err_line "kmill train: --centers 301 is more than the 300 rows of reg.kmx"
[ ! -e x.kmm ] && pass || fail "a model was written"

# --mem too small for the centres: the largest m that fits is named
expect_status 0 "$KMILL" gen lowrank -q -n 30000 -d 8 -o big.kmx
expect_status 1 "$KMILL" train --solver nystrom --centers 20000 --mem 1G big.kmx -o x.kmm &&
    expect_contains err "kmill train: --mem 1.00 GiB is too small: 20000 Nystrom centres need " &&
    expect_contains err "fit (--centers "

# faults in the middle of the passes (the survey reads 1 chunk of reg.kmx,
# so the 3rd chunk read is in the solve's second pass)
for f in 3:eio 3:corrupt 3:short; do
    KMILL_FAULT_READ=$f expect_status 1 "$KMILL" train --solver nystrom --centers 30 \
        --nystrom-mode cg reg64.kmx -o x.kmm &&
        expect_contains err "reg64.kmx: chunk "
    [ ! -e x.kmm ] && pass || fail "$f: a model was written"
done
finish
