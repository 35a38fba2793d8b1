#!/bin/sh
# kmill mlp: usage errors word for word, a sample larger than the data, a
# regression label under cross-entropy, divergence, the network as a model
# that predict, eval and info take (eval's accuracy is the run's own), a
# seed that fixes the run, the --log TSV, and on lowrank data (label x0 *
# x1 * [x5 > 0]) a network in the rich regime whose feature ansatz rises
# from its initial value and whose AGOP picks out x0, x1 and x5.
. "$top_srcdir/tests/cli/lib.sh"

usage() { # MESSAGE ARGS...
    msg=$1; shift
    expect_status 2 "$KMILL" mlp "$@" && expect_err_line "kmill mlp: $msg"
}
"$KMILL" gen lowrank -n 300 -o small.kmx -q || exit 99
usage "invalid --width '0' (expected an integer from 1 to 1048576)" small.kmx --width 0
usage "invalid --depth '0' (expected an integer from 1 to 1024)" small.kmx --depth 0
usage "invalid --depth '-2' (expected an integer from 1 to 1024)" small.kmx --depth -2
usage "invalid --loss 'hinge'" small.kmx --loss hinge
usage "--lr must be a number > 0" small.kmx --lr 0
usage "--val and --val-frac exclude each other" small.kmx --val small.kmx --val-frac 0.2
usage "expected one DATA argument (a .kmx or CSV file, or -)"
usage "--loss xent needs a classification label; 'label' is a regression target (use --loss mse, or --task classify)" \
    small.kmx --loss xent --width 8

# more rows asked for than there are: all of them, and a line saying so
expect_status 0 "$KMILL" mlp small.kmx --sample 1000 --width 8 --epochs 1 &&
    expect_err_line "kmill mlp: small.kmx has 300 rows, fewer than the 1000 asked for: using all of them"
expect_contains out "rows: 272 training, 28 validation; features 10; outputs 1 (regression)"

# divergence: exit 1, the epoch and the step size; no model left behind
expect_status 1 "$KMILL" mlp small.kmx --lr 1e6 --width 16 --epochs 5 -o bad.kmm -q &&
    expect_err_line "kmill mlp: the loss diverged at epoch 1 (inf): try a smaller --lr than 1e+06"
[ ! -e bad.kmm ] && pass || fail "a model was written after divergence"

# a classifier on all rows: eval on the same rows gives the run's accuracy
"$KMILL" gen mixture -n 600 --classes 3 -d 5 -o mx.kmx -q || exit 99
expect_status 0 "$KMILL" mlp mx.kmx -o m.kmm --val-frac 0 --epochs 3 --width 32 --threads 1 -q
mine=$(awk '/^train-accuracy:/ { print $(NF - 3) }' out)
expect_status 0 "$KMILL" eval m.kmm mx.kmx
theirs=$(awk '$1 == "accuracy" { print $2 }' out)
awk -v a="$mine" -v b="$theirs" 'BEGIN { d = a - b; exit !(a != "" && d < 1e-6 && d > -1e-6) }' &&
    pass || fail "eval's accuracy $theirs is not the run's $mine"
expect_status 0 "$KMILL" predict m.kmm mx.kmx
[ "$(wc -l <out)" -eq 601 ] && [ "$(head -n 1 out)" = prediction ] && pass ||
    fail "predict: $(head -n 3 out)"
expect_status 0 "$KMILL" info m.kmm && expect_contains out "kind:       ReLU network (kmill mlp)" &&
    expect_contains out "network:    depth 2, widths 5-32-32-3, ntk parameterisation, sw2 2, sb2 0.1, alpha 1"
expect_status 0 "$KMILL" info --json m.kmm &&
    expect_contains out '"kind":"network","task":"classification"'
expect_status 1 "$KMILL" features m.kmm &&
    expect_err_line "kmill features: m.kmm: a network has no kernel feature matrix to rank; kmill mlp reports its AGOP's largest diagonal entries (agop-top) and its feature ansatz (nfa)"
# the file's header: minor version 5, the network bit required
[ "$(od -An -tu1 -j10 -N6 m.kmm | tr -s ' ')" = " 5 0 1 0 0 0" ] && pass ||
    fail "header: $(od -An -tu1 -j8 -N8 m.kmm)"

# a seed fixes the run: the same report (but the time) and predictions
for i in 1 2; do
    "$KMILL" mlp mx.kmx -o r$i.kmm --epochs 2 --width 16 --batch 32 --seed 5 -q --threads 1 |
        grep -v '^seconds' >rep$i || fail "run $i"
    "$KMILL" predict r$i.kmm mx.kmx >pred$i || fail "predict $i"
done
cmp -s rep1 rep2 && cmp -s pred1 pred2 && pass || fail "two runs with --seed 5 differ"
"$KMILL" mlp mx.kmx --epochs 2 --width 16 --batch 32 --seed 6 -q --threads 1 | grep -v '^seconds' >rep3
cmp -s rep1 rep3 && fail "--seed 6 gave the run of --seed 5" || pass

# --log: a header and a row per epoch, initialisation included
expect_status 0 "$KMILL" mlp mx.kmx --epochs 4 --width 8 --log ep.tsv -q
[ "$(head -n 1 ep.tsv)" = "$(printf 'epoch\tloss\ttrain_accuracy\tval_loss\tval_accuracy\tseconds')" ] &&
    [ "$(awk 'END { print NR ":" $1 }' ep.tsv)" = "6:4" ] && pass || fail "log: $(cat ep.tsv)"

# the rich regime on lowrank data
"$KMILL" gen lowrank -n 2000 -o lr.kmx -q || exit 99
expect_status 0 "$KMILL" mlp lr.kmx --width 64 --epochs 30 --alpha 0.2 --lr 0.2 --threads 1 -q
awk '/^nfa:/ { exit !($5 + 0 > $2 + 0) }' out && pass ||
    fail "the ansatz did not rise: $(grep nfa out)"
top=$(awk '/^agop-top:/ { print $2 " " $4 " " $6 }' out | tr ' ' '\n' | sort | tr '\n' ' ')
[ "$top" = "x0 x1 x5 " ] && pass || fail "the AGOP's largest entries: $(grep agop-top out)"
rich=$(awk '/^kernel-distance:/ { print $2 }' out)
# the lazy regime (alpha 1 here) moves the empirical NTK far less
expect_status 0 "$KMILL" mlp lr.kmx --width 64 --epochs 30 --alpha 1 --lr 0.2 --threads 1 -q
lazy=$(awk '/^kernel-distance:/ { print $2 }' out)
awk -v r="$rich" -v l="$lazy" 'BEGIN { exit !(r > 10 * l && r < 1 && l >= 0) }' && pass ||
    fail "kernel distance rich $rich, lazy $lazy"
finish
