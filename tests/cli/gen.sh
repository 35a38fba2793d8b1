#!/bin/sh
# kmill gen: usage errors word for word, the CSV header, a .kmx that info
# and cat read back as the CSV, determinism, the truth file's shape, and
# a dataset that train takes as it is.
. "$top_srcdir/tests/cli/lib.sh"

# usage errors: exit 2, the message, then the pointer to --help
usage() { expect_usage gen "$@"; }
usage "no preset (lowrank, subspace or mixture)"
usage "unknown preset 'lowrnk'; did you mean 'lowrank'?" lowrnk
usage "unknown preset 'spiral' (lowrank, subspace or mixture)" spiral
usage "expected one preset, got 2" lowrank mixture
usage "lowrank needs -d 6 or more (its target reads x5), got 5" lowrank -d 5
usage "--intrinsic 5 is more than the 4 columns (-d)" subspace -d 4 --intrinsic 5
usage "--classes is an option of mixture, not of subspace" subspace --classes 3
usage "--degree is an option of subspace, not of mixture" mixture --degree 3
usage "--classes 4 needs -d 4 or more (one direction per class mean), got 3" mixture -d 3 --classes 4
usage "mixture makes classes only (--task classify)" mixture --task regress
usage "--noise 2: a probability of flipping the class, from 0 to 1" mixture --noise 2
usage "invalid --task 'sort' (classify or regress)" lowrank --task sort
usage "invalid -n '-5' (a non-negative integer)" lowrank -n -5
usage "invalid --noise '-1' (expected 0 or more)" lowrank --noise -1

# an output that cannot be written fails at once, before any row is made
expect_status 1 "$KMILL" gen lowrank -n 100000000 -o nodir/x.csv &&
    expect_err_line "kmill gen: cannot create nodir/x.csv: No such file or directory"
expect_status 1 "$KMILL" gen lowrank -n 100000000 -o x.csv --truth nodir/t.txt &&
    expect_err_line "kmill gen: cannot create nodir/t.txt: No such file or directory"
[ ! -e x.csv ] && pass || fail "x.csv written although --truth cannot be"

# CSV on standard output: header, rows, width
expect_status 0 "$KMILL" gen lowrank -n 5 -d 7
[ "$(head -n 1 out)" = "x0,x1,x2,x3,x4,x5,x6,label" ] && pass || fail "header: $(head -n 1 out)"
[ "$(wc -l <out)" -eq 6 ] && pass || fail "5 rows gave $(wc -l <out) lines"
[ "$(awk -F, '{ print NF }' out | sort -u)" = 8 ] && pass || fail "rows of other widths than 8"
[ ! -s err ] && pass || fail "CSV to stdout printed: $(cat err)"

# a dataset, read back by info and cat; the CSV file is the same text
for p in lowrank subspace mixture; do
    expect_status 0 "$KMILL" gen $p -n 3000 -d 9 --seed 4 --chunk-rows 700 -o $p.kmx
    expect_contains err "$p.kmx: 3000 rows, 10 columns (x0..x8, label: "
    expect_status 0 "$KMILL" info $p.kmx
    expect_contains out "rows:     3000"
    expect_contains out "source:   kmill gen $p --seed 4"
    expect_status 0 "$KMILL" gen $p -n 3000 -d 9 --seed 4 -o $p.csv
    expect_status 0 "$KMILL" cat $p.kmx
    cmp -s out $p.csv && pass || fail "$p: cat of the .kmx differs from the CSV"
    # and the same again on standard output, with another thread count
    expect_status 0 "$KMILL" gen $p -n 3000 -d 9 --seed 4 --threads 1 -o -
    cmp -s out $p.csv && pass || fail "$p: CSV with one thread differs"
done
ls -a | grep -q '\.tmp\.' && fail "temporary file left behind" || pass

# the labels: classes 0..K-1 for mixture, 0/1 for a classified lowrank
expect_status 0 "$KMILL" gen mixture -n 2000 -d 5 --classes 4
[ "$(tail -n +2 out | awk -F, '{ print $NF }' | sort -u | tr '\n' ' ')" = "0 1 2 3 " ] && pass ||
    fail "mixture classes: $(tail -n +2 out | awk -F, '{ print $NF }' | sort -u | tr '\n' ' ')"
expect_status 0 "$KMILL" gen lowrank -n 2000 --task classify
[ "$(tail -n +2 out | awk -F, '{ print $NF }' | sort -u | tr '\n' ' ')" = "0 1 " ] && pass ||
    fail "lowrank classes"

# determinism: the same seed twice gives the same bytes, another seed not;
# a shorter run is the start of a longer one
"$KMILL" gen subspace -n 500 --seed 9 >a.csv && "$KMILL" gen subspace -n 500 --seed 9 >b.csv
cmp -s a.csv b.csv && pass || fail "seed 9 twice gave different output"
"$KMILL" gen subspace -n 500 --seed 10 >c.csv
cmp -s a.csv c.csv && fail "seeds 9 and 10 gave the same output" || pass
"$KMILL" gen subspace -n 200 --seed 9 >d.csv
head -n 201 a.csv | cmp -s - d.csv && pass || fail "200 rows are not the start of 500"
"$KMILL" gen mixture -n 300 -o e.kmx 2>/dev/null && "$KMILL" gen mixture -n 300 -o f.kmx 2>/dev/null
cmp -s e.kmx f.kmx && pass || fail "the same .kmx twice differs"

# the truth file: the header lines, then the directions (k rows of d)
expect_status 0 "$KMILL" gen subspace -n 10 -d 8 --intrinsic 3 --degree 2 --task classify \
    --seed 5 --truth t.txt -o s.csv
for line in "preset subspace" "seed 5" "columns 8" "task classify" "intrinsic 3" "degree 2" \
    "directions 3 8"; do
    grep -qx "$line" t.txt && pass || fail "truth: no line '$line': $(cat t.txt)"
done
grep -q '^threshold -*[0-9]' t.txt && pass || fail "truth: no threshold"
[ "$(sed -n '/^directions/,/^terms/p' t.txt | sed '1d;$d' | awk '{ print NF }' | tr '\n' ' ')" = "8 8 8 " ] &&
    pass || fail "truth: directions are not 3 rows of 8: $(cat t.txt)"
# each term: a coefficient and 3 degrees summing to 2
n=$(sed -n 's/^terms \([0-9]*\) 3$/\1/p' t.txt)
[ -n "$n" ] && [ "$(sed -n '/^terms/,$p' t.txt | sed 1d | awk '{ print NF, $2 + $3 + $4 }' | sort -u)" = "4 2" ] &&
    [ "$(sed -n '/^terms/,$p' t.txt | sed 1d | wc -l)" -eq "$n" ] && pass ||
    fail "truth: terms are not of degree 2: $(cat t.txt)"
expect_status 0 "$KMILL" gen mixture -d 4 --classes 3 --separation 2 --truth m.txt -o /dev/null
grep -qx "means 3 4" m.txt && [ "$(sed -n '/^means/,$p' m.txt | sed 1d | awk '{ print NF }' | tr '\n' ' ')" = "4 4 4 " ] &&
    pass || fail "truth: means are not 3 rows of 4: $(cat m.txt)"
# the means are 2 apart, as asked (checked here from the file's numbers)
sed -n '/^means/,$p' m.txt | sed 1d | awk '{ for (j = 1; j <= NF; j++) m[NR, j] = $j }
    END { for (a = 1; a <= 3; a++) for (b = a + 1; b <= 3; b++) { s = 0
            for (j = 1; j <= 4; j++) s += (m[a, j] - m[b, j]) ^ 2
            if (sqrt(s) < 1.999999 || sqrt(s) > 2.000001) { print "means", a, b, sqrt(s); exit 1 } } }' &&
    pass || fail "truth: class means are not 2 apart"

# train finds the label and its task by itself
expect_status 0 "$KMILL" gen mixture -n 400 -d 4 --separation 6 -o tr.kmx
expect_status 0 "$KMILL" train tr.kmx -o tr.kmm
expect_contains err " classes=2 "
finish
