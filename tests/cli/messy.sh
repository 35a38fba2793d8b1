#!/bin/sh
# messy.sh - CSVs as other tools write them: a numeric column with a stray
# text value, European decimals, identifier-like columns; convert and the
# commands that convert on the fly (train, predict, eval) alike.
. "$top_srcdir/tests/cli/lib.sh"

# a numeric column with one text cell: an error naming it, by default
awk 'BEGIN { print "crim,zn,medv"; for (i = 1; i <= 300; i++)
             print (i == 12 ? "abc" : i * 0.25) "," i % 7 "," (i == 200 ? "n/a (see notes)" : i % 50) }' >b.csv
expect_status 1 "$KMILL" convert b.csv -o b.kmx
expect_err_line "kmill convert: b.csv:13:1: column 'crim' holds numbers and text such as \"abc\" (1 of 300 values); --bad-values missing reads the text as missing, --na-values names missing-value tokens, --categorical 'crim' keeps it as categories"
[ ! -e b.kmx ] && pass || fail "b.kmx written after the error"
# --bad-values missing: counted warnings, numbers kept, text missing
expect_status 0 "$KMILL" convert --bad-values missing b.csv -o b.kmx
expect_contains err "kmill convert: warning: b.csv: column 'crim': 1 value that is not a number read as missing (the first at line 13, field 1: \"abc\")"
expect_contains err "kmill convert: warning: b.csv: column 'medv': 1 value that is not a number read as missing (the first at line 201, field 3: \"n/a (see notes)\")"
expect_status 0 "$KMILL" info --json b.kmx
expect_contains out '{"name":"crim","type":"numeric","count":299,"missing":1'
expect_contains out '{"name":"medv","type":"numeric","count":299,"missing":1'
"$KMILL" cat --rows 10:13 b.kmx >out
printf 'crim,zn,medv\n2.75,4,11\n,5,12\n3.25,6,13\n' >want
cmp -s out want && pass || fail "values around the stray one: $(cat out)"
# the same across chunks written before the text came (a second pass), and
# with the text first
for cr in 7 1000; do
    expect_status 0 "$KMILL" convert -q --bad-values missing --chunk-rows $cr b.csv -o c.kmx
    "$KMILL" cat c.kmx >c.out
    "$KMILL" cat b.kmx | cmp -s - c.out && pass || fail "--chunk-rows $cr differs"
done
awk 'BEGIN { print "x,y"; print "oops,1"; for (i = 0; i < 3000; i++) print i * 0.5 "," i % 3 }' >t.csv
expect_status 1 "$KMILL" convert --chunk-rows 100 t.csv -o t.kmx
expect_err_line "kmill convert: t.csv:2:1: column 'x' holds numbers and text such as \"oops\" (1 of 3001 values); --bad-values missing reads the text as missing, --na-values names missing-value tokens, --categorical 'x' keeps it as categories"
expect_status 0 "$KMILL" convert -q --bad-values missing --chunk-rows 100 t.csv -o t.kmx
"$KMILL" cat --rows 0:3 t.kmx >out
printf 'x,y\n,1\n0,0\n0.5,1\n' >want
cmp -s out want && pass || fail "text first: $(cat out)"
# a column reaching --max-levels is decided at the end from the whole
# column, so the outcome never depends on where blocks end (--threads,
# --mem): mostly numbers here, bad values; later text past 1 in 20 makes
# it a column of too many levels after all
awk 'BEGIN { p = sprintf("%1000s", ""); gsub(/ /, "p", p); print "k,pad"
             for (i = 0; i < 100; i++) print "t," p; for (i = 1; i <= 1000; i++) print i "," p
             for (i = 0; i < 5000; i++) print "1," p }' >blk.csv
for t in 1 4; do
    expect_status 0 "$KMILL" convert -q --threads $t --max-levels 500 --mem 60M --bad-values missing blk.csv -o blk$t.kmx
done
"$KMILL" cat blk4.kmx >blk4.csv
"$KMILL" cat blk1.kmx | cmp -s - blk4.csv && pass || fail "--threads 1 and 4 differ"
expect_status 1 "$KMILL" convert --threads 4 --max-levels 500 --mem 60M blk.csv -o blk.kmx
expect_err_line "kmill convert: blk.csv:2:1: column 'k' holds numbers and text such as \"t\" (100 of 6100 values); --bad-values missing reads the text as missing, --na-values names missing-value tokens, --categorical 'k' keeps it as categories"
awk 'BEGIN { p = sprintf("%1000s", ""); gsub(/ /, "p", p); print "k,v"; print "t," p
             for (i = 1; i <= 600; i++) print i "," p; for (i = 0; i < 3000; i++) print "1," p
             for (i = 0; i < 100000; i++) print "u" (i % 3) ",x" }' >late_text.csv
expect_status 1 "$KMILL" convert --threads 1 --max-levels 500 --bad-values missing late_text.csv -o lt.kmx
expect_err_line "kmill convert: late_text.csv:502:1: column 'k' has more than 500 distinct values; if it is an identifier, --drop it; otherwise raise --max-levels"
# more distinct texts than the limit before any number: said at once
awk 'BEGIN { print "id,v"; for (i = 0; i < 30; i++) print "n" i "," i }' >ids.csv
expect_status 1 "$KMILL" convert --max-levels 20 ids.csv -o ids.kmx
expect_err_line "kmill convert: ids.csv:22:1: column 'id' has more than 20 distinct values; if it is an identifier, --drop it; otherwise raise --max-levels"
# with a decimal comma, numbers as categories are written with it, so the
# text "1.5" and the number 1,5 stay apart
{ printf 'k;v\n'; awk 'BEGIN { for (i = 1; i <= 12000; i++) print "2,5;" i }'; printf '1.5;0\n3,5;0\n1,5;7\n1,5;8\n'; } >dc3.csv
expect_status 0 "$KMILL" convert -q --bad-values missing dc3.csv -o dc3.kmx
"$KMILL" cat --rows 11999:12004 dc3.kmx >out
printf 'k,v\n2.5,12000\n,0\n3.5,0\n1.5,7\n1.5,8\n' >want
cmp -s out want && pass || fail "decimal comma and text: $(cat out)"
# a forced numeric column: text is an error, or missing
printf 'a,b\n1,x\n2,y\nz,x\n' >f.csv
expect_status 1 "$KMILL" convert --numeric a f.csv -o f.kmx
expect_err_line 'kmill convert: f.csv:4:1: expected a number, got "z"'
expect_status 0 "$KMILL" convert --numeric a --bad-values missing f.csv -o f.kmx
expect_contains err "kmill convert: warning: f.csv: column 'a': 1 value that is not a number read as missing (the first at line 4, field 1: \"z\")"
# more text than 1 value in 20: categorical, numbers as their text
printf 'doors,y\n2,a\n4,b\nmore,a\n4,b\n2,a\n' >car.csv
expect_status 0 "$KMILL" convert car.csv -o car.kmx
"$KMILL" cat car.kmx | cmp -s - car.csv && pass || fail "doors: $("$KMILL" cat car.kmx)"
expect_status 2 "$KMILL" convert --bad-values maybe car.csv -o x.kmx
expect_err_line "kmill convert: invalid --bad-values 'maybe' (error or missing)"

# European CSV: ';' and decimal commas, detected and said
printf 'a;b;c\n14,4383;1;x\n-0,5;2;y\n3;3,25;z\n' >eu.csv
expect_status 0 "$KMILL" convert eu.csv -o eu.kmx
expect_err_line "kmill convert: eu.csv: ';'-separated with decimal commas (\"14,4383\"): reading ',' as the decimal mark (--decimal . to read it as text)"
"$KMILL" cat eu.kmx >out
printf 'a,b,c\n14.4383,1,x\n-0.5,2,y\n3,3.25,z\n' >want
cmp -s out want && pass || fail "European decimals: $(cat out)"
# told: no message; '1.234' is no number with a decimal comma
awk 'BEGIN { print "a;b"; for (i = 0; i < 30; i++) print "1,5;x"; print "1.234;y" }' >eu2.csv
expect_status 0 "$KMILL" convert --decimal , --bad-values missing eu2.csv -o eu2.kmx
"$KMILL" cat --rows 29:31 eu2.kmx >out
printf 'a,b\n1.5,x\n,y\n' >want
cmp -s out want && pass || fail "--decimal ,: $(cat out)"
expect_status 2 "$KMILL" convert --decimal , car.csv -o x.kmx
expect_err_line "kmill convert: --decimal , needs another delimiter than ',' (--delimiter ';')"
expect_status 2 "$KMILL" convert --decimal x car.csv -o x.kmx
expect_err_line "kmill convert: invalid --decimal 'x' ('.' or ',')"

# a categorical column with about as many levels as rows: a warning
awk 'BEGIN { print "name,v"; for (i = 1; i <= 120; i++) print "n" i "," i % 3 }' >id.csv
expect_status 0 "$KMILL" convert id.csv -o id.kmx
expect_contains err "kmill convert: warning: id.csv: column 'name' has 120 distinct values out of 120, as an identifier would; --drop it if it is one"

# quoted throughout, in a file that quotes selectively (R's factors and
# row names): categorical; a file quoting every field says nothing by it
printf '"","size","w","y"\n"1","5",1.5,"a"\n"2","7",2.5,"b"\n"3","5",3,"a"\n' >r.csv
expect_status 0 "$KMILL" convert -v r.csv -o r.kmx
expect_contains err "kmill convert: r.csv: column 'size' is quoted throughout, as R writes factors: categorical (--numeric size to read numbers)"
expect_status 0 "$KMILL" info --json r.kmx
expect_contains out '{"name":"size","type":"categorical"'
expect_contains out '{"name":"w","type":"numeric"'
expect_status 0 "$KMILL" convert --numeric size r.csv -o r.kmx
expect_status 0 "$KMILL" info --json r.kmx
expect_contains out '{"name":"size","type":"numeric"'
# ...but not when its categories might not fit --max-levels: R's row
# names, 1..3000, stay numbers (train calls them an identifier)
awk 'BEGIN { print "\"\",\"f\",x,\"y\""; for (i = 1; i <= 3000; i++)
             print "\"" i "\",\"" i % 5 "\"," i / 7 ",\"" (i % 2 ? "a" : "b") "\"" }' >rbig.csv
expect_status 0 "$KMILL" convert rbig.csv -o rbig.kmx
expect_status 0 "$KMILL" info --json rbig.kmx
expect_contains out '{"name":"col1","type":"numeric"'
expect_contains out '{"name":"f","type":"categorical","count":3000,"missing":0,"levels":5'
printf '"a","b"\n"1","2"\n"3","4"\n' >qa.csv
expect_status 0 "$KMILL" convert qa.csv -o qa.kmx
expect_status 0 "$KMILL" info --json qa.kmx
expect_contains out '{"name":"a","type":"numeric"'

# train, predict and eval read CSV with the column options; the model
# keeps them, so a raw file is read for prediction as in training: zip
# codes forced categorical keep their leading zero, ';' and decimal
# commas, an id dropped; the prediction file has its columns in another
# order, no label, and an extra column
awk 'BEGIN { srand(3); print "id;zip;x;label"
             for (i = 0; i < 200; i++) { z = i % 3 == 0 ? "02134" : i % 3 == 1 ? "10001" : "94110"
                 x = (i % 17) / 4 - 2; l = ((x > 0) != (z == "02134")) ? "yes" : "no"
                 xs = sprintf("%.2f", x); sub(/\./, ",", xs)
                 print 1000 + i ";" z ";" xs ";" l } }' >tr.csv
expect_status 0 "$KMILL" train -q --categorical zip --drop id tr.csv -o m.kmm
awk -F';' 'NR == 1 { print "x;extra;zip;id"; next } { print $3 ";e;" $2 ";" $1 }' tr.csv >te.csv
expect_status 0 "$KMILL" predict -q m.kmm te.csv
awk -F';' 'NR > 1 { print $4 }' tr.csv >want
tail -n +2 out | cmp -s - want && pass || fail "predictions from the raw file differ from the labels: $(sort out | uniq -c)"
expect_status 0 "$KMILL" eval -q m.kmm tr.csv
expect_contains out "accuracy	1.000000"
expect_status 0 "$KMILL" convert -q tr.csv -o tr.kmx
# the options given to predict override the model's
expect_status 1 "$KMILL" predict m.kmm --delimiter , te.csv
expect_err_line "kmill predict: te.csv:2:2: 2 fields, expected 1 as in the header (--ragged=skip to drop such rows)"
# the decimal mark detected in training is the hint for a ';' file whose
# first 64 KiB show none (only integers)
awk 'BEGIN { srand(7); print "x;y"; for (i = 0; i < 200; i++) { x = rand() * 10; xs = sprintf("%.1f", x)
             sub(/\./, ",", xs); print xs ";" (x > 5 ? "a" : "b") } }' >eutr.csv
expect_status 0 "$KMILL" train -q eutr.csv -o eu.kmm
awk 'BEGIN { print "x;o"; for (i = 0; i < 30000; i++) print i % 10 ";1"; print "1,5;1"; print "7,5;1" }' >eupr.csv
expect_status 0 "$KMILL" predict -q eu.kmm eupr.csv
[ "$(tail -n 2 out | tr '\n' ' ')" = "b a " ] && pass || fail "decimal hint: $(tail -n 2 out)"
printf 'a;b\n1;2\n' >none.csv
expect_status 1 "$KMILL" predict m.kmm none.csv
expect_err_line "kmill predict: the data has no column 'zip', which the model needs"
# --drop on a .kmx leaves the column out of the features; the label cannot go
expect_status 2 "$KMILL" train --drop label tr.kmx -o m3.kmm
expect_err_line "kmill train: --drop names the label 'label'"
expect_status 0 "$KMILL" train --na-values NA tr.kmx -o m3.kmm
expect_contains err "kmill train: warning: tr.kmx is a dataset: the column options other than --drop apply to CSV input"

# a regression label with one value: nothing to learn
awk 'BEGIN { print "y,x"; for (i = 0; i < 50; i++) print "5," i }' >one.csv
expect_status 1 "$KMILL" train one.csv -o one.kmm
expect_err_line "kmill train: the label 'y' has one value, 5, in every labelled row: there is nothing to learn"
# identifiers: a numeric Id (distinct integers), R's unnamed row numbers,
# a categorical column with a level per row; --drop takes them out
awk 'BEGIN { srand(1); print "Id,a,name,y"; for (i = 0; i < 100; i++)
             print int(1000000 + rand() * 900000) "," rand() ",n" i "," (rand() > 0.5 ? "p" : "q") }' >idd.csv
expect_status 0 "$KMILL" train idd.csv -o idd.kmm
expect_contains err "kmill train: warning: column 'Id' looks like an identifier (a different integer in every row), which a kernel machine cannot use; --drop Id if it is one"
expect_contains err "kmill train: warning: column 'name' looks like an identifier (a different value in every row), which a kernel machine cannot use; --drop name if it is one"
expect_status 0 "$KMILL" train --drop Id,name idd.csv -o idd.kmm
grep -q identifier err && fail "identifier warning after --drop: $(cat err)" || pass
awk 'BEGIN { print "\"\",a,y"; for (i = 1; i <= 60; i++) print "\"" i "\"," i % 7 "," (i % 3 ? "p" : "q") }' >rn.csv
expect_status 0 "$KMILL" train rn.csv -o rn.kmm
expect_contains err "kmill train: warning: column 'col1' looks like an identifier (a different value in every row), which a kernel machine cannot use; --drop col1 if it is one"
awk 'BEGIN { print "n,a,y"; for (i = 1; i <= 60; i++) print i "," i % 7 "," (i % 3 ? "p" : "q") }' >rn2.csv
expect_status 0 "$KMILL" train rn2.csv -o rn.kmm
expect_contains err "kmill train: warning: column 'n' looks like an identifier (a different integer in every row), which a kernel machine cannot use; --drop n if it is one"
# a numeric feature of distinct integers with no identifier's name or order: no warning
awk 'BEGIN { srand(4); print "income,y"; for (i = 0; i < 60; i++) print int(rand() * 1e6) "," (i % 2 ? "p" : "q") }' >inc.csv
expect_status 0 "$KMILL" train inc.csv -o inc.kmm
grep -q identifier err && fail "identifier warning for income: $(cat err)" || pass

# an unconverged solve is said with what to do, the RFM stops there, and
# the model's summary says it is unreliable (the step kept, not refitted)
awk 'BEGIN { srand(2); print "a,b,c,y"; for (i = 0; i < 400; i++) { a = rand(); b = rand(); c = rand()
             print a "," b "," c "," (a + b > 1 ? "p" : "q") } }' >cg.csv
expect_status 0 "$KMILL" train --rfm --iters 2 --bandwidth 10 --no-refit --solver pcg --precond none --max-iter 3 --reg 1e-6 cg.csv -o cg.kmm
expect_contains err "above --tol 0.0001: the fit is unreliable; a larger --reg, --solver direct (when the kernel matrix fits in --mem), a larger --rank or --max-iter may converge"
expect_contains err "kmill train: warning: L=10 reg=1e-06: the RFM stops at iteration 0, whose solve did not converge"
expect_contains err "kmill train: warning: the model's solve did not converge (relative residual 0.99): its predictions are unreliable"
# a grid: the step that solved is kept over the one that did not
expect_status 0 "$KMILL" train --solver pcg --precond none --max-iter 30 --bandwidth 10 --reg 1e-6,10 cg.csv -o cg.kmm
expect_contains err "chosen: L=10 reg=10 "
grep -q "did not converge (relative" err && fail "unconverged model kept: $(cat err)" || pass

# a regression label with more text than bad values may be: not hundreds
# of classes, an error saying both ways out; the way taken is kept for eval
awk 'BEGIN { srand(5); print "x,label"; for (i = 0; i < 300; i++) { x = rand(); print x "," (i % 10 == 3 ? "pending" : int(x * 300)) } }' >L2.csv
expect_status 1 "$KMILL" train -q L2.csv -o L2.kmm
expect_err_line "kmill train: the label 'label' has 183 distinct values, 182 of them numbers: a numeric label with text in it? --numeric label --bad-values missing reads the text as missing (a regression); --task classify learns them as classes"
expect_status 0 "$KMILL" train -q --numeric label --bad-values missing L2.csv -o L2.kmm
expect_status 0 "$KMILL" eval -q L2.kmm L2.csv && expect_contains out "rows	270"
# predict reads no label: one it could not read does not stop it
awk 'BEGIN { print "x,y"; for (i = 0; i < 50; i++) print i "," i * 0.5 }' >pl.csv
expect_status 0 "$KMILL" train -q pl.csv -o pl.kmm
awk 'BEGIN { print "x,y"; for (i = 0; i < 50; i++) print i ",pending" }' >pl2.csv
expect_status 0 "$KMILL" predict -q pl.kmm pl2.csv && [ "$(wc -l <out)" -eq 51 ] && pass ||
    fail "predict with an unreadable label: $(head -n 3 err)"
# a numeric column with more text than bad values: categorical, said
awk 'BEGIN { srand(5); print "bmi,y"; for (i = 0; i < 300; i++) print (i % 8 == 3 ? "see chart" : rand()) "," i % 3 }' >L4.csv
expect_status 0 "$KMILL" convert L4.csv -o L4.kmx
expect_err_line "kmill convert: warning: L4.csv:5:1: column 'bmi' is categorical, though 87% of its values are numbers (text such as \"see chart\"); --numeric bmi --bad-values missing reads it as numbers"
# a column with no values, or one, in training adds nothing, whatever
# value it takes in other data
awk 'BEGIN { srand(6); print "a,b,notes,ph,y"; for (i = 0; i < 200; i++) { a = rand(); b = rand()
             print a "," b ",,3.4," (a + b > 1 ? "p" : "q") } }' >cm.csv
expect_status 0 "$KMILL" train -q --scale none cm.csv -o cm.kmm
awk -F, 'NR == 1 { print; next } { $3 = 1000; $4 = 99; print }' OFS=, cm.csv >cm2.csv
"$KMILL" predict -q cm.kmm cm.csv >p1.csv && "$KMILL" predict -q cm.kmm cm2.csv >p2.csv &&
    cmp -s p1.csv p2.csv && pass || fail "a constant or empty column moved the predictions"
expect_status 0 "$KMILL" train cm.csv -o cm.kmm
expect_contains err "kmill train: warning: column 'notes' has no values in the training rows: it is not used"
# rows skipped while predicting from CSV are said (the output is then out
# of line with the input)
{ head -n 50 cm.csv; echo "1,2,3"; tail -n +51 cm.csv; } >rg.csv
expect_status 0 "$KMILL" predict cm.kmm --ragged skip rg.csv
expect_contains err "kmill predict: warning: rg.csv: skipped 1 rows with a wrong number of fields"
# pandas' index (a column without a name, distinct integers, shuffled)
awk 'BEGIN { srand(8); print ",f0,f1,label"; for (i = 0; i < 100; i++) print int(rand() * 1e6) * 1000 + i "," rand() "," rand() "," (i % 2 ? "a" : "b") }' >pd.csv
expect_status 0 "$KMILL" train pd.csv -o pd.kmm
expect_contains err "kmill train: warning: column 'col1' looks like an identifier (a different integer in every row), which a kernel machine cannot use; --drop col1 if it is one"
# a softmax temperature at its bound is said
awk 'BEGIN { srand(2); print "a,b,y"; for (i = 0; i < 300; i++) { a = rand(); b = rand(); print a "," b "," (a > 0.5 ? "p" : "q") } }' >sep.csv
expect_status 0 "$KMILL" train sep.csv --val-frac 0.2 -o sep.kmm
expect_contains err "kmill train: warning: the 60 validation rows are all classified right: the softmax temperature is at its bound, 0.001, and --proba's probabilities will be overconfident (a larger --val-frac may give a better one)"

finish
