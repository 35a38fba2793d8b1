#!/bin/sh
# convert / info / cat end to end: round trips, dialects, options.
. "$top_srcdir/tests/cli/lib.sh"
D=$top_srcdir/tests/data

# the fixture: BOM, CRLF, quoted delimiters, quotes and newlines, NA, -0,
# a number that rounds in float32 (16777217 -> 16777216)
expect_status 0 "$KMILL" convert -q "$D/mixed.csv" -o m.kmx
[ ! -s err ] && pass || fail "-q printed: $(cat err)"
expect_status 0 "$KMILL" cat m.kmx
cmp -s out "$D/mixed.expected" && pass || fail "cat differs: $(diff out "$D/mixed.expected")"
# the same through a pipe, with every backend
for io in pread uring auto; do
    cat "$D/mixed.csv" | "$KMILL" convert - -o p.kmx 2>err && pass || fail "convert from stdin: $(cat err)"
    KMILL_IO=$io "$KMILL" cat p.kmx >out 2>err
    cmp -s out "$D/mixed.expected" && pass || fail "stdin round trip ($io) differs"
done
ls -a | grep -q '\.tmp\.' && fail "temporary file left behind" || pass

# random CSV: numbers of many shapes, NA, categories, quoting; cat must give
# back every value (numbers equal as float32, strings identical). 150000
# rows (6 MB): regular files are mapped 2 MiB at a time and the parser
# unescapes quotes in place, so this also checks the file is unchanged.
awk -v seed=7 'BEGIN {
    srand(seed); print "a,b,c,d,e";
    for (i = 0; i < 150000; i++) {
        a = int(rand() * 1000000) - 500000;
        b = sprintf("%.7g", (rand() - 0.5) * 10 ^ int(rand() * 20 - 10));
        r = rand(); c = r < 0.1 ? "" : r < 0.2 ? "NA" : sprintf("%.3f", rand());
        k = int(rand() * 5); d = k == 0 ? "\"x,y\"" : k == 1 ? "\"q\"\"uote\"" : k == 2 ? "plain" : k == 3 ? "\"two\nlines\"" : "";
        e = sprintf("%de%d", int(rand() * 100), int(rand() * 10) - 5);
        print a "," b "," c "," d "," e
    } }' >r.csv
sum=$(cksum <r.csv)
expect_status 0 "$KMILL" convert r.csv -o r.kmx --chunk-rows 333
[ "$(cksum <r.csv)" = "$sum" ] && pass || fail "convert changed its input"
expect_status 0 "$KMILL" cat r.kmx
mv out r.out
# numbers: relative difference below one float32 ulp; strings: identical
awk -F, 'NR == FNR { n++; next } END { }' r.csv r.out
"$KMILL" convert r.out -o r2.kmx 2>err && "$KMILL" cat r2.kmx >r2.out 2>err
cmp -s r.out r2.out && pass || fail "cat output is not a fixed point of convert/cat"
tr -d '\r' <r.csv | awk 'BEGIN { RS = "\n"; }
    { print }' >/dev/null
# compare field by field with a CSV-aware awk (quoted fields hold , and newlines)
cat >cmp.awk <<'AWK'
function parse(line,   n, i, c, f, q) {
    n = 0; f = ""; q = 0
    for (i = 1; i <= length(line); i++) {
        c = substr(line, i, 1)
        if (q) { if (c == "\"") { if (substr(line, i + 1, 1) == "\"") { f = f "\""; i++ } else q = 0 } else f = f c }
        else if (c == "\"") q = 1
        else if (c == ",") { F[++n] = f; f = "" }
        else f = f c
    }
    F[++n] = f; return n
}
function rec(file,   line, l, q) {
    if ((getline line < file) <= 0) return ""
    while (gsub(/"/, "\"", line) % 2 == 1) { getline l < file; line = line "\n" l }
    return line
}
BEGIN {
    bad = 0; rows = 0
    while ((a = rec(A)) != "") {
        b = rec(B); rows++
        na = parse(a); for (i = 1; i <= na; i++) X[i] = F[i]
        nb = parse(b)
        if (na != nb) { print "row " rows ": " na " vs " nb " fields"; bad++; continue }
        for (i = 1; i <= na; i++) {
            x = X[i]; y = F[i]
            if (x == "NA") x = ""
            if (x == y) continue
            if (x ~ /^[-+0-9.eE]+$/ && y ~ /^[-+0-9.eE]+$/) {
                d = x - y; if (d < 0) d = -d; m = x < 0 ? -x : x
                if (d <= m * 1.2e-7 || d == 0) continue # both within half an ulp of one float: 2^-23 apart at most
            }
            if (bad < 5) print "row " rows " field " i ": [" X[i] "] vs [" F[i] "]"
            bad++
        }
    }
    print rows " rows compared, " bad " differences"
    exit bad != 0
}
AWK
awk -v A=r.csv -v B=r.out -f cmp.awk >cmpout && pass || fail "values differ: $(cat cmpout)"
grep -q '^150001 rows compared, 0 differences' cmpout && pass || fail "compare: $(cat cmpout)"

# info: text and JSON
expect_status 0 "$KMILL" info r.kmx
expect_contains out "rows:     150000"
expect_contains out "columns:  5 (4 numeric, 1 categorical)"
expect_contains out "chunks:   451 of up to 333 rows"
expect_status 0 "$KMILL" info --json m.kmx
expect_contains out '"rows":5,"columns":4,"numeric_columns":3,"categorical_columns":1'
expect_contains out '{"name":"x","type":"numeric","count":3,"missing":2,"min":-0,"max":16777216'
expect_contains out '{"name":"name, full","type":"categorical","count":4,"missing":1,"levels":4,"categories":["Smith, J","say \"hi\"","multi\nline","plain"]}'

# cat: head, rows, columns, sample
expect_status 0 "$KMILL" cat --head 2 --columns y,1 m.kmx
printf 'y,id\n3,1\n-0.0045,2\n' >want; cmp -s out want && pass || fail "--head/--columns: $(cat out)"
expect_status 0 "$KMILL" cat --rows 3: --no-header --columns id m.kmx
printf '4\n5\n' >want; cmp -s out want && pass || fail "--rows 3:: $(cat out)"
expect_status 0 "$KMILL" cat --sample 100 --seed 3 --columns a r.kmx
[ "$(wc -l <out)" -eq 101 ] && pass || fail "--sample 100 gave $(wc -l <out) lines"
cp out s1
"$KMILL" cat --sample 100 --seed 3 --columns a --threads 1 --io pread r.kmx >s2
cmp -s s1 s2 && pass || fail "--sample is not reproducible"
"$KMILL" cat --sample 100 --seed 4 --columns a r.kmx >s3
cmp -s s1 s3 && fail "--seed does not change the sample" || pass
# the sample is a subset of the rows, in file order, without repeats
"$KMILL" cat --columns a --no-header r.kmx | awk '{ print NR - 1 "," $0 }' >numbered
sed 1d s1 | sort | uniq -d | grep -q . && fail "sample has repeated rows" || pass
expect_status 0 "$KMILL" cat --sample 150000 --columns a r.kmx
"$KMILL" cat --columns a r.kmx | cmp -s - out && pass || fail "--sample N of N rows is not the whole file"

# dialects: semicolons, tabs, pipes detected; --delimiter; --no-header
printf 'a;b\n1,5;x\n2;y\n' >semi.csv
expect_status 0 "$KMILL" convert --decimal . semi.csv -o semi.kmx
expect_status 0 "$KMILL" cat semi.kmx
printf 'a,b\n"1,5",x\n2,y\n' >want; cmp -s out want && pass || fail "semicolon file: $(cat out)"
printf 'a\tb\n1\t2\n' | "$KMILL" convert - -o tab.kmx 2>err && "$KMILL" cat tab.kmx >out
printf 'a,b\n1,2\n' >want; cmp -s out want && pass || fail "tab file: $(cat out)"
printf '1|2\n3|4\r5|6' | "$KMILL" convert --no-header - -o pipe.kmx 2>err && "$KMILL" cat pipe.kmx >out
printf 'col1,col2\n1,2\n3,4\n5,6\n' >want; cmp -s out want && pass || fail "pipe, CR, no final newline: $(cat out)"
printf 'a,b\n1,2\n' | "$KMILL" convert -d ';' --decimal . - -o one.kmx 2>err && "$KMILL" cat one.kmx >out
printf '"a,b"\n"1,2"\n' >want; cmp -s out want && pass || fail "forced delimiter: $(cat out)"

# types: forced categorical keeps the text; --drop; NA list; blank lines
printf 'id,v,w\n007,1,a\n8,,b\n\n9,-,c\n' >t.csv
expect_status 0 "$KMILL" convert --categorical id --drop w --na-values=,- t.csv -o t.kmx
expect_contains err "warning: skipped 1 blank lines"
expect_status 0 "$KMILL" cat t.kmx
printf 'id,v\n007,1\n8,\n9,\n' >want; cmp -s out want && pass || fail "--categorical/--drop/--na-values: $(cat out)"
expect_status 0 "$KMILL" info --json t.kmx
expect_contains out '{"name":"v","type":"numeric","count":1,"missing":2'
# a column that turns text in its first chunk becomes categorical, numbers kept as text
printf 'k,v\n1,2\n2.50,3\nabc,4\n' | "$KMILL" convert - -o k.kmx 2>err && "$KMILL" cat k.kmx >out
printf 'k,v\n1,2\n2.5,3\nabc,4\n' >want; cmp -s out want && pass || fail "late categorical: $(cat out)"
# a column that turns text only after chunks were written: a second pass
# turns its earlier numbers into categories (3 MB, so several blocks too)
# (text in more than 1 value in 20: categorical, not numeric with stray values)
awk 'BEGIN { print "k,v"; for (i = 1; i <= 200000; i++) print (i % 20) ".50," i;
             for (i = 0; i < 11000; i++) print "late text," 0; print "3,1" }' >late.csv
expect_status 0 "$KMILL" convert --chunk-rows 1000 late.csv -o late.kmx
expect_status 0 "$KMILL" info --json late.kmx
expect_contains out '"name":"k","type":"categorical","count":211001,"missing":0,"levels":22,"categories":["1.5","2.5"'
"$KMILL" cat late.kmx >out
awk -F, 'NR > 1 && NR <= 200001 { n++; if ($1 != (NR - 1) % 20 ".5") bad++ } END { exit !(n == 200000 && !bad) }' out && pass || fail "late categorical values: $(sed -n 2,4p out)"
[ "$(tail -n 2 out | tr '\n' ' ')" = "late text,0 3,1 " ] && pass || fail "late rows: $(tail -n 2 out)"
ls -A | grep -q '\.tmp\.' && fail "temporary file left by the second pass" || pass
expect_status 1 "$KMILL" convert --chunk-rows 1000 --max-levels 21 late.csv -o late2.kmx
expect_err_line "kmill convert: late.csv:211002:1: column 'k' has more than 21 distinct values; if it is an identifier, --drop it; otherwise raise --max-levels"
# the limit can also be crossed in the second pass, by the early numbers
awk 'BEGIN { print "k,pad"; for (i = 1; i <= 300000; i++) print (i < 100000 ? i % 5000 : i % 10) ",padding";
             for (i = 0; i < 16000; i++) print "x,y" }' >late3.csv
expect_status 1 "$KMILL" convert --chunk-rows 100 --max-levels 4000 late3.csv -o late3.kmx
expect_err_line "kmill convert: late3.csv: column 'k' has more than 4000 distinct values; if it is an identifier, --drop it; otherwise raise --max-levels"
[ ! -e late2.kmx ] && [ ! -e late3.kmx ] && ! ls -A | grep -q '\.tmp\.' && pass || fail "output left after a failed second pass: $(ls -A)"

# levels are numbered by first appearance, numbers and text alike
printf 'k,v\nx,1\n1,2\ny,3\n1,4\n' | "$KMILL" convert - -o o.kmx 2>err && "$KMILL" info --json o.kmx >out
expect_contains out '"levels":3,"categories":["x","1","y"]'
# ragged rows on request
printf 'a,b\n1\n2,3\n' | "$KMILL" convert --ragged fill - -o f.kmx 2>err && "$KMILL" cat f.kmx >out
printf 'a,b\n1,\n2,3\n' >want; cmp -s out want && pass || fail "--ragged fill: $(cat out)"
printf 'a,b\n1\n2,3\n4,5,6\n' | "$KMILL" convert --ragged skip - -o s.kmx 2>err && "$KMILL" cat s.kmx >out
printf 'a,b\n2,3\n' >want; cmp -s out want && pass || fail "--ragged skip: $(cat out)"
expect_contains err "warning: skipped 2 rows with a wrong number of fields"
# lazy quotes
printf 'a,b\n12" tv,1\n' | "$KMILL" convert --lazy-quotes - -o l.kmx 2>err && "$KMILL" cat l.kmx >out
printf 'a,b\n"12"" tv",1\n' >want; cmp -s out want && pass || fail "--lazy-quotes: $(cat out)"
# the bundled Fashion-MNIST sample comes back byte for byte
gzip -dc "$top_srcdir/examples/fashion-train.csv.gz" >fm.csv
expect_status 0 "$KMILL" convert fm.csv -o fm.kmx
"$KMILL" cat fm.kmx | cmp -s - fm.csv && pass || fail "Fashion-MNIST sample does not round-trip"
"$KMILL" convert --threads 1 --shuffle off --level 1 fm.csv -o fm1.kmx 2>err
"$KMILL" cat fm1.kmx | cmp -s - fm.csv && pass || fail "--threads 1 --shuffle off differs"

# an existing output is replaced atomically
expect_status 0 "$KMILL" convert "$D/mixed.csv" -o r.kmx
expect_status 0 "$KMILL" info r.kmx
expect_contains out "rows:     5"
finish
