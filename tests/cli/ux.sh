#!/bin/sh
# A user's first hour: misspelt options, commands and columns get a
# suggestion; --label by name in any case or by number; info on a model;
# info and cat on CSV; errors name the user's input, never kmill's own
# temporary files.
. "$top_srcdir/tests/cli/lib.sh"

cat >iris.csv <<'CSV'
sepal,petal,Species
5.1,1.4,setosa
4.9,1.4,setosa
6.3,4.9,versicolor
6.0,4.5,versicolor
7.1,5.9,virginica
6.5,5.5,virginica
CSV

# ---- did you mean ----------------------------------------------------------
expect_status 2 "$KMILL" train --bandwith 3 iris.csv -o m.kmm
expect_err_line "kmill train: unknown option '--bandwith'; did you mean '--bandwidth'?"
expect_status 2 "$KMILL" train --bandwith=3 iris.csv -o m.kmm
expect_err_line "kmill train: unknown option '--bandwith'; did you mean '--bandwidth'?"
expect_status 2 "$KMILL" cat --Head 3 iris.csv
expect_err_line "kmill cat: unknown option '--Head'; did you mean '--head'?"
expect_status 2 "$KMILL" info --colour x
expect_err_line "kmill info: unknown option '--colour'"
# a prefix of several options names them; a value where none is taken
expect_status 2 "$KMILL" train --p iris.csv -o m.kmm
expect_err_line "kmill train: option '--p' is ambiguous: '--passes', '--precond', '--progress'"
expect_status 2 "$KMILL" info --json=yes x.kmx
expect_err_line "kmill info: option '--json' takes no value"
expect_status 2 "$KMILL" info -z x.kmx
expect_err_line "kmill info: unknown option '-z'"
# commands
expect_status 2 "$KMILL" trian iris.csv
expect_err_line "kmill: unknown command 'trian'; did you mean 'train'?"
expect_status 2 "$KMILL" --verison
expect_err_line "kmill: unknown option '--verison'; did you mean '--version'?"
expect_status 2 "$KMILL" help infp
expect_err_line "kmill help: unknown command 'infp'; did you mean 'info'?"
expect_status 2 "$KMILL" xyzzy
expect_err_line "kmill: unknown command 'xyzzy'"
# columns
expect_status 2 "$KMILL" convert --drop Speceis iris.csv -o d.kmx
expect_err_line "kmill convert: --drop: no column 'Speceis'; did you mean 'Species'?"
expect_status 2 "$KMILL" convert --categorical petl iris.csv -o d.kmx
expect_err_line "kmill convert: --categorical: no column 'petl'; did you mean 'petal'?"
expect_status 2 "$KMILL" convert --numeric nothing iris.csv -o d.kmx
expect_err_line "kmill convert: --numeric: no column 'nothing' (columns are named in the header, or numbered 1 to 3)"
expect_status 0 "$KMILL" convert -q iris.csv -o iris.kmx
expect_status 2 "$KMILL" cat --columns sepal,SPECIES iris.kmx
expect_err_line "kmill cat: --columns: no column 'SPECIES'; did you mean 'Species'?"
expect_status 2 "$KMILL" train --label Speceis iris.kmx -o m.kmm
expect_err_line "kmill train: --label: no column 'Speceis'; did you mean 'Species'?"
[ ! -e m.kmm ] && pass || fail "a failed train left m.kmm"

# ---- --label: exact, any case, a number --------------------------------
# the model's label and classes are the same whichever way the column is named
for l in Species species SPECIES 3; do
    expect_status 0 "$KMILL" train -q --label "$l" iris.kmx -o "m-$l.kmm"
    expect_status 0 "$KMILL" info --json "m-$l.kmm"
    expect_contains out '"label":"Species","classes":["setosa","versicolor","virginica"]'
done
expect_status 2 "$KMILL" train --label 4 iris.kmx -o m.kmm
expect_err_line "kmill train: --label: no column '4' (columns are named in the header, or numbered 1 to 3)"
printf 'x,Width,width\n1,2,3\n2,3,4\n' >twice.csv
expect_status 2 "$KMILL" train --label WIDTH twice.csv -o m.kmm
expect_err_line "kmill train: --label: 'WIDTH' is ambiguous: columns 'Width' and 'width' differ from it only in case; give the name exactly"
expect_status 0 "$KMILL" train -q --label width --task regress twice.csv -o m.kmm
expect_status 0 "$KMILL" info --json m.kmm
expect_contains out '"label":"width"'

# ---- info on a model ---------------------------------------------------
ver=$(sed -n 's/^AC_INIT(\[kmill\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
expect_status 0 "$KMILL" train -q --label Species --kernel gaussian --bandwidth 2 --reg 0.01 \
    iris.kmx -o iris.kmm
# named as anything: the first bytes say it is a model
cp iris.kmm model.dat
expect_status 0 "$KMILL" info --verify model.dat
size=$(wc -c <iris.kmm | tr -d ' ')
sed -e 's/^\(made by: .*\), [0-9T:Z-]*$/\1, DATE/' \
    -e 's/relative residual [0-9.e+-]*$/relative residual R/' \
    -e 's/(checksum [0-9a-f]\{8\})/(checksum C)/' out >got
# the format version the header holds (bytes 8 and 10, little-endian u16)
fmt=$(od -An -tu1 -j8 -N4 iris.kmm | awk '{ print "kmm " $1 + 256 * $2 "." $3 + 256 * $4 }')
size_h="$size B"
[ "$size" -ge 1024 ] && size_h=$(awk -v b="$size" 'BEGIN { printf "%.2f KiB", b / 1024 }')
cat >want <<TXT
file:       model.dat ($size_h)
format:     $fmt
kind:       kernel machine
task:       classification, 3 classes
label:      Species (classes: setosa, versicolor, virginica)
kernel:     gaussian, bandwidth 2
ridge:      0.01
M:          none
features:   2, from 2 columns (2 numeric, 0 categorical), min-max scaling
centres:    6
rows:       6 trained on
solver:     direct, 0 iterations, relative residual R
training:   accuracy 1
made by:    kmill $ver, DATE
command:    kmill train -q --label Species --kernel gaussian --bandwidth 2 --reg 0.01 -o iris.kmm iris.kmx
data:       iris.kmx (checksum C)
verified:   every section's checksum matches and its contents are consistent
TXT
cmp -s got want && pass || fail "info on a model: $(diff want got)"
expect_status 0 "$KMILL" info --json iris.kmm
for field in '{"file":"iris.kmm","format":"'"$fmt"'","file_bytes":'"$size"',"kind":"kernel"' \
    '"task":"classification","label":"Species","classes":["setosa","versicolor","virginica"]' \
    '"kernel":"gaussian","bandwidth":2,"reg":0.01,"metric":"none","centres":6' \
    '"features":2,"outputs":3,"numeric_columns":2,"categorical_columns":0,"scale":"min-max"' \
    '"solver":"direct","iterations":0,"residual":' '"train_accuracy":1,"selection":null' \
    '"provenance":{"version":"'"$ver"'","command":"kmill train -q --label Species --kernel gaussian --bandwidth 2 --reg 0.01 -o iris.kmm iris.kmx","created":"' \
    '"data":"iris.kmx","data_checksum":"'; do
    expect_contains out "$field"
done
grep -q '"verified"' out && fail "--json without --verify says verified" || pass
# a damaged model: the reader's message, exit 1
head -c 100 iris.kmm >cut.kmm
expect_status 1 "$KMILL" info --verify cut.kmm
expect_err_line "kmill info: cut.kmm: truncated model file (section at byte 24)"
# cat of a model points to info
expect_status 1 "$KMILL" cat iris.kmm
expect_err_line "kmill cat: iris.kmm: a kmill model, not a dataset; describe it with: kmill info iris.kmm"

# ---- info and cat on CSV: convert it first --------------------------------
expect_status 1 "$KMILL" info iris.csv
expect_err_line "kmill info: iris.csv: a CSV file, not a dataset; convert it first: kmill convert iris.csv -o iris.kmx"
expect_status 1 "$KMILL" cat --head 2 iris.csv
expect_err_line "kmill cat: iris.csv: a CSV file, not a dataset; convert it first: kmill convert iris.csv -o iris.kmx"
[ -s out ] && fail "cat printed from a CSV: $(cat out)" || pass
cp iris.csv data
expect_status 1 "$KMILL" info data
expect_err_line "kmill info: data: a CSV file, not a dataset; convert it first: kmill convert data -o data.kmx"
# not text: the dataset reader's own message
printf 'PK\003\004\000\000binary' >zip.kmx
expect_status 1 "$KMILL" info zip.kmx
expect_err_line "kmill info: zip.kmx: not a kmill dataset (bad signature)"
head -c 7 iris.kmx >cut.kmx
expect_status 1 "$KMILL" info cut.kmx
expect_err_line "kmill info: cut.kmx: not a kmill dataset (too short)"

# ---- errors after an on-the-fly conversion name the user's input ----------
printf 'a,label\n1,\n2,\n' >nolabel.csv
mkdir td
expect_status 1 "$KMILL" train --tmpdir td nolabel.csv -o m.kmm
expect_err_line "kmill train: every row of nolabel.csv lacks the label 'label'"
expect_status 1 sh -c '"$0" train --tmpdir td - -o m.kmm <nolabel.csv' "$KMILL"
expect_err_line "kmill train: every row of <stdin> lacks the label 'label'"
expect_status 1 "$KMILL" train --tmpdir td --mem 16M nolabel.csv -o m.kmm
expect_contains err "kmill train: --mem 16.0 MiB is too small: reading the 2 rows of nolabel.csv needs at least"
printf 'sepal,petal,Species\n1,2,\n' >unlabelled.csv
expect_status 1 "$KMILL" train --tmpdir td --label Species --val unlabelled.csv iris.csv -o m.kmm
expect_err_line "kmill train: no row of unlabelled.csv has a label 'Species' seen in training"
expect_status 1 "$KMILL" eval --tmpdir td iris.kmm unlabelled.csv
expect_contains err "kmill eval: unlabelled.csv: no labelled rows to evaluate on"
# a full --tmpdir during the conversion
expect_status 1 env KMILL_FAULT_ENOSPC_AFTER=100 "$KMILL" train --tmpdir td iris.csv -o m.kmm
expect_err_line "kmill train: cannot convert iris.csv into a temporary dataset in td: No space left on device"
[ -z "$(ls -A td)" ] && pass || fail "temporary files left in td: $(ls -A td)"

finish
