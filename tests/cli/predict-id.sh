#!/bin/sh
# predict --id (issue 16): the columns named are copied, in order, first on
# each line, under their names, CSV-quoted as needed; categories as their
# text (an identifier read from CSV keeps its text as written: '007'
# stays '007', whatever --max-levels says), numbers as their shortest
# text, missing values empty; from CSV and from a .kmx dataset, and when
# the column is also one of the model's. The predictions beside them are
# those predict gives without --id. A column the data lacks is one line,
# exit 1, nothing written.
. "$top_srcdir/tests/cli/lib.sh"

cat >tr.csv <<'END'
key,x,y,label
1,1,2,a
2,2,1,b
3,1.5,2.5,a
4,3,0.5,b
5,0.5,3,a
6,2.5,0.2,b
END
expect_status 0 "$KMILL" train -q tr.csv --label label --drop key -o m.kmm

cat >te.csv <<'END'
name,x,y,id
"Smith, J",1,2,007
"say ""hi""",3,0.1,
plain,0.70,2.2,0123
END
# the predictions without --id, to paste the expected ids onto
expect_status 0 "$KMILL" predict -q m.kmm te.csv
tail -n +2 out >pred
[ "$(wc -l <pred)" -eq 3 ] && pass || fail "predict gave $(cat pred)"

# want HEADER IDS...: the expected output, one line of ids per row
want() {
    h=$1; shift
    echo "$h,prediction" >want
    printf '%s\n' "$@" >ids
    paste -d, ids pred >>want
}
same() { cmp -s "$1" want && pass || fail "$2: got $(cat "$1"), expected $(cat want)"; }

want id,name '007,"Smith, J"' ',"say ""hi"""' '0123,plain'
expect_status 0 "$KMILL" predict -q m.kmm te.csv --id id,name && same out "CSV, two ids"
expect_status 0 "$KMILL" predict -q m.kmm te.csv --id id --id name && same out "--id repeated"
# a model's column as the model reads it: a number, in its shortest form
want x,id '1,007' '3,' '0.7,0123'
expect_status 0 "$KMILL" predict -q m.kmm te.csv --id x,id && same out "CSV, a feature as id"
# with -o: the same, in the file, nothing on standard output
expect_status 0 "$KMILL" predict -q m.kmm te.csv --id x,id -o p.csv && same p.csv "-o" &&
    { [ -s out ] && fail "-o also wrote to standard output: $(cat out)" || pass; }

# from a .kmx dataset: the categorical columns' levels, the numbers'
# shortest text (converted without --categorical, 007 is the number 7)
expect_status 0 "$KMILL" convert -q te.csv --categorical name,id -o cat.kmx
want id,name,x '007,"Smith, J",1' ',"say ""hi""",3' '0123,plain,0.7'
expect_status 0 "$KMILL" predict -q m.kmm cat.kmx --id id,name,x && same out ".kmx, categorical"
expect_status 0 "$KMILL" convert -q te.csv -o num.kmx
want id,y '7,2' ',0.1' '123,2.2'
expect_status 0 "$KMILL" predict -q m.kmm num.kmx --id id,y && same out ".kmx, numeric"

# the label can be carried too, read as the model reads it
expect_status 0 "$KMILL" predict -q m.kmm tr.csv --id label,key
tail -n +2 out | cut -d, -f1 >lab
tail -n +2 tr.csv | cut -d, -f4 >want
cmp -s lab want && pass || fail "--id label gave $(cat lab)"
tail -n +2 out | cut -d, -f2 | tr '\n' ' ' >keys
[ "$(cat keys)" = "1 2 3 4 5 6 " ] && pass || fail "--id key gave $(cat keys)"

# an identifier from CSV has a level per row, beyond the default 1000
awk 'BEGIN { print "x,y,id"; for (i = 1; i <= 1500; i++) printf "%d,%d,%06d\n", i % 3, i % 5, i }' >many.csv
expect_status 0 "$KMILL" predict -q m.kmm many.csv --id id
tail -n +2 many.csv | cut -d, -f3 >want
tail -n +2 out | cut -d, -f1 >got
cmp -s got want && pass || fail "1500 ids: $(head -n 3 got)"

# numbers a 32-bit float cannot hold exactly: printed as stored, warned of
printf 'x,y,id\n1,2,123456789\n' >big.csv
expect_status 0 "$KMILL" convert -q big.csv -o big.kmx
expect_status 0 "$KMILL" predict m.kmm big.kmx --id id &&
    expect_err_line "kmill predict: warning: --id column 'id' holds numbers beyond 2^24, stored as 32-bit floats to about 7 digits and printed so; convert DATA with --categorical 'id' to keep their text"
[ "$(sed -n 2p out | cut -d, -f1)" = 1.2345679e8 ] && pass || fail "big id: $(cat out)"
# ...while from CSV they keep their text, without a warning
expect_status 0 "$KMILL" predict m.kmm big.csv --id id &&
    { [ -s err ] && fail "CSV id warned: $(cat err)" || pass; }
[ "$(sed -n 2p out | cut -d, -f1)" = 123456789 ] && pass || fail "big id from CSV: $(cat out)"

# a column the data lacks: one line, exit 1, nothing written
expect_status 1 "$KMILL" predict m.kmm te.csv --id id,nope -o q.csv &&
    expect_err_line "kmill predict: te.csv: no column 'nope' (--id)"
[ "$(wc -l <err)" -eq 1 ] && [ ! -s out ] && [ ! -e q.csv ] && pass ||
    fail "missing id: $(cat err out); $(ls)"
expect_status 1 "$KMILL" predict m.kmm num.kmx --id 4 &&
    expect_err_line "kmill predict: num.kmx: no column '4' (--id)"
expect_status 2 "$KMILL" predict m.kmm te.csv --id 'id,,name' &&
    expect_err_line "kmill predict: invalid --id 'id,,name' (column names, separated by commas)"

finish
