#!/bin/sh
# kmill ntk: usage errors word for word, a sample larger than the data,
# the TSV's shape, the Gram file's header and its diagonal against the
# depth-1 closed form, and the empirical NTK's distance to the analytic NTK
# falling like width^-1/2 (the log-log slope between -0.6 and -0.4) while
# its distance to the NNGP does not fall.
. "$top_srcdir/tests/cli/lib.sh"

usage() { expect_usage ntk "$@"; }
usage "expected one DATA argument"
usage "invalid --widths '0' (up to 32 widths from 1 to 1000000, separated by commas)" --widths 0 d.kmx
usage "invalid --widths '64,-1' (up to 32 widths from 1 to 1000000, separated by commas)" --widths 64,-1 d.kmx
usage "invalid --widths '64,,1' (up to 32 widths from 1 to 1000000, separated by commas)" --widths 64,,1 d.kmx
usage "invalid --widths '64,' (up to 32 widths from 1 to 1000000, separated by commas)" --widths 64, d.kmx
usage "invalid --depth '0' (expected an integer from 1 to 64)" --depth 0 d.kmx
usage "invalid --depth '-2' (expected an integer from 1 to 64)" --depth -2 d.kmx
usage "invalid --seeds '0' (expected an integer from 1 to 1000)" --seeds 0 d.kmx
usage "invalid --sample '0' (a positive row count)" --sample 0 d.kmx
usage "invalid --sw2 '0' (expected a positive number)" --sw2 0 d.kmx
usage "invalid --loss 'hinge' (mse or xent)" --loss hinge d.kmx

"$KMILL" gen mixture -n 100 -d 6 -o s.kmx 2>/dev/null || fail "gen s.kmx"
expect_status 1 "$KMILL" ntk s.kmx --tsv nodir/o.tsv &&
    expect_err_line "kmill ntk: cannot create nodir/o.tsv: No such file or directory"

# more rows asked than there are: all of them, and said so; the Gram file
expect_status 0 "$KMILL" ntk s.kmx --sample 500 --val-frac 0 --widths 8,16 --seeds 2 --gram g.bin
expect_err_line "kmill ntk: s.kmx has 100 rows, fewer than the 500 asked for: using all of them"
expect_contains err "kmill ntk: 100 training rows, 0 validation rows, 6 features, 2 outputs"
expect_contains err "kmill ntk: no validation rows: no kernel regression with the analytic NTK"
[ "$(head -n 1 out)" = "$(printf 'width\tseeds\tntk_init\tntk_init_sd\tnngp_init\tnngp_init_sd')" ] &&
    pass || fail "TSV header: $(head -n 1 out)"
[ "$(cut -f 1,2 out | tail -n +2 | tr '\t\n' ' ')" = "8 2 16 2 " ] && pass || fail "TSV rows: $(cat out)"
[ "$(head -c 64 g.bin)" = "kmill gram ntk depth 1 n 100 float32le                         " ] &&
    pass || fail "Gram header: $(head -c 64 g.bin)"
[ "$(wc -c <g.bin)" -eq $((64 + 4 * 100 * 100)) ] && pass || fail "Gram size $(wc -c <g.bin)"
# Depth 1 on the diagonal: S = sw2 |x|^2/d + sb2, NTK = sw2 S + sb2; the
# standardised columns make the mean |x|^2/d exactly 1 over all the rows:
# 2 (2 + 0.1) + 0.1 = 4.3. The matrix is symmetric.
od -A n -t f4 -j 64 -v -w4 g.bin | awk '{ v[NR - 1] = $1 } END {
    n = 100; s = 0; a = 0
    for (i = 0; i < n; i++) s += v[i * n + i]
    for (i = 0; i < n; i++) for (j = 0; j < n; j++) {
        e = v[i * n + j] - v[j * n + i]; if (e < 0) e = -e; if (e > a) a = e }
    printf "%.4f %g\n", s / n, a }' >diag
[ "$(cat diag)" = "4.3000 0" ] && pass || fail "Gram diagonal mean and asymmetry: $(cat diag)"

# training adds its columns and lines
expect_status 0 "$KMILL" ntk s.kmx --widths 16 --seeds 2 --epochs 3 --tsv o.tsv
[ ! -s out ] && pass || fail "--tsv still wrote to stdout: $(cat out)"
[ "$(head -n 1 o.tsv | cut -f 7-)" = "$(printf 'ntk_trained\tntk_trained_sd\tkernel_move\tkernel_move_sd\tval_accuracy\tval_sd')" ] &&
    pass || fail "trained TSV header: $(head -n 1 o.tsv)"
expect_contains err "kmill ntk: width 16 trained 3 epochs: validation accuracy "
expect_contains err "kmill ntk: kernel regression with the analytic NTK (depth 1, reg 0.001): validation accuracy "

# width^-1/2: depth 1, 200 rows, widths 64 to 4096, ten networks each
"$KMILL" gen mixture -n 2000 -d 20 -o m.kmx 2>/dev/null || fail "gen m.kmx"
expect_status 0 "$KMILL" ntk m.kmx --sample 200 --val-frac 0 --widths 64,256,1024,4096 --seeds 10
slope=$(sed -n 's/.*against width: \([-0-9.]*\) at initialisation.*/\1/p' err)
awk -v s="$slope" 'BEGIN { exit !(s != "" && s >= -0.6 && s <= -0.4) }' && pass ||
    fail "log-log slope '$slope' outside [-0.6, -0.4]: $(cat err out)"
# the NNGP is another kernel: its distance stays far from 0 at width 4096
awk -F '\t' '$1 == 4096 { exit !($5 > 0.2) }' out && pass || fail "NNGP distance fell: $(cat out)"
finish
