#!/bin/sh
# `kmill spectrum` end to end: the report's shape (text and JSON, -o), the
# sample larger than the rows, --top beyond the rows, bad --reg values, a
# model's spectrum (a plain model's equals its data's, leave-one-out
# included, since its targets are recovered from its coefficients; an
# RFM's learned kernel gives another), and --mem too small, whose largest
# sample that fits is checked by running it and the one above it.
. "$top_srcdir/tests/cli/lib.sh"

"$KMILL" gen mixture -n 300 -d 5 --classes 3 --seed 4 -o mix.kmx -q || fail "gen mixture"

# the text report: the header, --top rows of eigenvalues, a line per ridge
expect_status 0 "$KMILL" spectrum mix.kmx --sample 120 --top 4 --reg 0.1,1 &&
    expect_contains out "# mix.kmx: 120 of 300 rows, 5 features, kernel laplace, bandwidth 10, classification of 3 classes" &&
    expect_contains out "$(printf 'rank\teigenvalue\tshare\tcumulative')" &&
    expect_contains out "$(printf 'reg\tlambda\tdof\ttrain_mse\tloo_mse\tloo_accuracy\tgcv\ttr_inv')"
[ "$(grep -c '^[0-9]' out)" -eq 6 ] && pass || fail "rows: $(cat out)"
# the cumulative share grows, the dof falls with the ridge, lambda = reg / n
awk -F'\t' '/^rank/ { t = 1; next } /^reg/ { t = 2; next } /^$|^#/ { next }
    t == 1 { if ($4 < c || $4 > 1.000001) bad = 1; c = $4 }
    t == 2 { if (($2 * 120 / $1 - 1) ^ 2 > 1e-10 || (n++ && $3 >= dof)) bad = 1; dof = $3 }
    END { exit bad || n != 2 }' out && pass || fail "table: $(cat out)"
# -o writes the same report; JSON carries the same figures
"$KMILL" spectrum mix.kmx --sample 120 --top 4 --reg 0.1,1 >direct.txt 2>/dev/null
expect_status 0 "$KMILL" spectrum mix.kmx --sample 120 --top 4 --reg 0.1,1 -o rep.txt &&
    cmp -s rep.txt direct.txt && pass || fail "-o: $(cat rep.txt)"
expect_status 0 "$KMILL" spectrum mix.kmx --sample 120 --top 2 --reg 1 --json &&
    expect_contains out '{"input":"mix.kmx","kind":"data","rows":120,"available":300,"features":5,"task":"classify","outputs":3,"kernel":"laplace","bandwidth":10,"metric":"none","trace":1,"eigenvalues":[{"rank":1,' &&
    expect_contains out '"ridges":[{"reg":1,"lambda":0.00833333333,"dof":'
# without --reg, eigenvalues alone
expect_status 0 "$KMILL" spectrum mix.kmx --sample 50 --top 3 &&
    [ "$(grep -c '^[0-9]' out)" -eq 3 ] && ! grep -q '^reg' out && pass || fail "no --reg: $(cat out)"

# progress on a terminal (forced): the decomposition, which cannot count,
# is shown before it starts (the kernel matrix of so few rows is done
# before the first line is due)
expect_status 0 "$KMILL" spectrum --progress mix.kmx --sample 300 --top 2 --reg 1 &&
    tr '\r' '\n' <err >prog && expect_contains prog "kmill spectrum: eigendecomposition"
expect_status 0 "$KMILL" spectrum --progress mix.kmx --sample 300 --top 2 &&
    tr '\r' '\n' <err >prog && expect_contains prog "kmill spectrum: top eigenvalues"

# --sample beyond the rows: all of them, said once
expect_status 0 "$KMILL" spectrum mix.kmx --sample 1000 --top 2 &&
    expect_err_line "kmill spectrum: mix.kmx has 300 rows, fewer than the 1000 asked for: using all of them" &&
    expect_contains out "# mix.kmx: 300 of 300 rows"
# --top beyond --sample is a usage error; beyond the rows drawn, all of them
expect_status 2 "$KMILL" spectrum mix.kmx --sample 50 --top 60 &&
    expect_err_line "kmill spectrum: --top 60 is more than --sample 50"
expect_status 0 "$KMILL" spectrum mix.kmx --sample 1000 --top 400 &&
    [ "$(sed -n 2p err)" = "kmill spectrum: --top 400 is more than the 300 rows: all 300 eigenvalues" ] &&
    [ "$(grep -c '^[0-9]' out)" -eq 300 ] && pass || fail "--top 400: $(cat err)"
# bad ridges, a missing --sample, a bandwidth grid
expect_status 2 "$KMILL" spectrum mix.kmx --sample 50 --reg 0 &&
    expect_err_line "kmill spectrum: --reg must be a positive number, not '0'"
expect_status 2 "$KMILL" spectrum mix.kmx --sample 50 --reg -1,2 &&
    expect_err_line "kmill spectrum: --reg must be a list of positive numbers, not '-1,2'"
expect_status 2 "$KMILL" spectrum mix.kmx --sample 50 --reg 1,,2 &&
    expect_err_line "kmill spectrum: --reg: empty value in the list '1,,2'"
expect_status 2 "$KMILL" spectrum mix.kmx --sample 50 --reg one &&
    expect_err_line "kmill spectrum: invalid --reg 'one' (expected a number)"
expect_status 2 "$KMILL" spectrum mix.kmx &&
    expect_err_line "kmill spectrum: --sample N is required with DATA: the kernel matrix of N rows takes 8 N^2 bytes"
expect_status 2 "$KMILL" spectrum mix.kmx --sample 50 --bandwidth 1,2 &&
    expect_err_line "kmill spectrum: --bandwidth takes one value here (a grid is train's)"
expect_status 2 "$KMILL" spectrum mix.kmx --sample 1 &&
    expect_err_line "kmill spectrum: invalid --sample '1' (expected an integer from 2 to 2147483647)"

# a model: a plain one trained on every row (no hold-out) has the
# spectrum and the leave-one-out figures of its data under its kernel
"$KMILL" gen lowrank -n 400 -d 8 --task classify --seed 2 -o lr.kmx -q || fail "gen lowrank"
expect_status 0 "$KMILL" train lr.kmx --bandwidth 4 -o plain.kmm
expect_status 0 "$KMILL" spectrum lr.kmx --sample 400 --bandwidth 4 --top 5 --reg 1e-3,0.1 &&
    sed 1d out >data.txt
expect_status 0 "$KMILL" spectrum plain.kmm --top 5 --reg 1e-3,0.1 &&
    expect_contains out "# plain.kmm: 400 of 400 centres, 8 features, kernel laplace, bandwidth 4, classification of 2 classes" &&
    sed 1d out >model.txt && cmp -s data.txt model.txt && pass ||
    fail "plain model against its data: $(paste data.txt model.txt)"
# an RFM's learned kernel: its M applied, another spectrum
expect_status 0 "$KMILL" train lr.kmx --rfm --iters 2 --bandwidth 4 -o rfm.kmm -q
expect_status 0 "$KMILL" spectrum rfm.kmm --top 5 --reg 1e-3 --json &&
    expect_contains out '"kind":"model","rows":400,"available":400,' &&
    expect_contains out '"metric":"full"'
expect_status 0 "$KMILL" spectrum rfm.kmm --top 5 --reg 1e-3,0.1 &&
    expect_contains out "kernel laplace, bandwidth 4 with its full M" &&
    sed 1d out >rfm.txt
cmp -s rfm.txt model.txt && fail "the RFM's spectrum is the plain kernel's" || pass
# a sample of the centres, and more than there are
expect_status 0 "$KMILL" spectrum plain.kmm --sample 100 --top 2 &&
    expect_contains out "# plain.kmm: 100 of 400 centres"
expect_status 0 "$KMILL" spectrum plain.kmm --sample 500 --top 2 &&
    expect_err_line "kmill spectrum: the model has 400 centres, fewer than the 500 asked for: using all of them"
expect_status 2 "$KMILL" spectrum plain.kmm --kernel gaussian &&
    expect_err_line "kmill spectrum: plain.kmm is a model: it brings its own kernel and features (the kernel's, --label, --task, --scale and the column options apply to DATA)"

# the analytic NTK, through the kernel options train takes: a model
# trained with it reports what its data does
expect_status 0 "$KMILL" train mix.kmx --kernel ntk --depth 2 -o ntk.kmm -q
expect_status 0 "$KMILL" spectrum mix.kmx --sample 300 --kernel ntk --depth 2 --top 3 --reg 1e-3 &&
    expect_contains out "# mix.kmx: 300 of 300 rows, 5 features, kernel ntk, depth 2, sw2 2, sb2 0.1, classification of 3 classes" &&
    sed 1d out >ntk-data.txt
expect_status 0 "$KMILL" spectrum ntk.kmm --top 3 --reg 1e-3 &&
    sed 1d out | cmp -s - ntk-data.txt && pass || fail "ntk model against its data: $(cat out)"
expect_status 0 "$KMILL" spectrum mix.kmx --sample 50 --kernel nngp --top 1 --json &&
    expect_contains out '"kernel":"nngp","bandwidth":null,"depth":1,"sw2":2,"sb2":0.1,'
expect_status 2 "$KMILL" spectrum mix.kmx --sample 50 --kernel ntk --bandwidth 3 &&
    expect_err_line "kmill spectrum: --bandwidth applies only to --kernel laplace or gaussian: ntk has no bandwidth"
expect_status 2 "$KMILL" spectrum mix.kmx --sample 50 --depth 3 &&
    expect_err_line "kmill spectrum: --depth applies only to --kernel ntk or nngp"

# --mem too small: the message names the largest sample that fits, which
# runs, and one more row does not
"$KMILL" gen mixture -n 2000 -d 5 --classes 3 -o m2.kmx -q || fail "gen m2"
expect_status 1 "$KMILL" spectrum --threads 1 m2.kmx --sample 2000 --mem 60M &&
    expect_err_line "kmill spectrum: --mem 60.0 MiB is too small: the spectrum of 2000 rows needs 81.5 MiB (process 16.0 MiB, sample 481 KiB, kernel matrix (float64) 30.5 MiB, kernel strip 1.96 MiB, eigensolver 531 KiB, BLAS buffers 32.0 MiB); at most 1154 rows fit (--sample 1154)"
expect_status 0 "$KMILL" spectrum --threads 1 m2.kmx --sample 1154 --mem 60M --top 2
expect_status 1 "$KMILL" spectrum --threads 1 m2.kmx --sample 1155 --mem 60M --top 2 &&
    expect_contains err "at most 1154 rows fit (--sample 1154)"
# with --reg the eigenvectors double it
expect_status 1 "$KMILL" spectrum --threads 1 m2.kmx --sample 2000 --mem 60M --reg 1 &&
    expect_contains err "eigenvectors 30.5 MiB"
finish
