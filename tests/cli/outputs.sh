#!/bin/sh
# Outputs (issue 15, findings 7 and 9): an output that is the same file as
# an input (or as another output) is refused before anything is written,
# through symbolic and hard links and standard input too; -o - where a
# file is needed is a usage error; a dataset or model that is a pipe is
# refused at once (open() would wait for a writer); a write error on
# standard output is one line; a full --tmpdir names the input and the
# directory.
. "$top_srcdir/tests/cli/lib.sh"

printf 'x,y,label\n1,2,a\n3,4,b\n5,6,a\n7,8,b\n' >d.csv
expect_status 0 "$KMILL" convert d.csv -o d.kmx
expect_status 0 "$KMILL" train --bandwidth 1 d.kmx -o m.kmm
sums() { cksum d.csv d.kmx m.kmm same.csv 2>/dev/null; }
cp d.csv same.csv
ln -s same.csv sym.csv
ln same.csv hard.csv
before=$(sums)

# same ONE-LINE-MESSAGE CMD...: exit 1, the message, nothing changed or left
same() {
    msg=$1
    shift
    expect_status 1 "$@"
    expect_err_line "$msg"
    [ "$(sums)" = "$before" ] && pass || fail "'$*' changed a file"
    [ "$(ls -A | grep -c -e '\.tmp\.' -e '^new\.')" -eq 0 ] && pass || fail "'$*' left: $(ls -A)"
}
same "kmill convert: -o same.csv is the same file as the input same.csv; choose another output name" \
    "$KMILL" convert same.csv -o same.csv
same "kmill convert: -o ./same.csv is the same file as the input same.csv; choose another output name" \
    "$KMILL" convert same.csv -o ./same.csv
same "kmill convert: -o sym.csv is the same file as the input same.csv; choose another output name" \
    "$KMILL" convert same.csv -o sym.csv
same "kmill convert: -o same.csv is the same file as the input hard.csv; choose another output name" \
    "$KMILL" convert hard.csv -o same.csv
same "kmill convert: -o same.csv is the same file as the input (standard input); choose another output name" \
    sh -c "'$KMILL' convert - -o same.csv <same.csv"
same "kmill train: -o d.kmx is the same file as the input d.kmx; choose another output name" \
    "$KMILL" train d.kmx -o d.kmx
same "kmill train: -o d.csv is the same file as --val d.csv; choose another output name" \
    "$KMILL" train --val d.csv d.kmx -o d.csv
same "kmill train: --log d.kmx is the same file as the input d.kmx; choose another output name" \
    "$KMILL" train --rfm --log d.kmx d.kmx -o new.kmm
same "kmill train: --log new.kmm is the same file as -o new.kmm; choose another output name" \
    "$KMILL" train --rfm --log new.kmm d.kmx -o new.kmm
same "kmill predict: -o m.kmm is the same file as the input m.kmm; choose another output name" \
    "$KMILL" predict m.kmm d.kmx -o m.kmm
same "kmill predict: -o d.csv is the same file as the input d.csv; choose another output name" \
    "$KMILL" predict m.kmm d.csv -o d.csv

# -o -: a dataset or model needs a file (usage error, nothing created);
# predictions go to standard output as without -o
expect_status 2 "$KMILL" convert d.csv -o -
expect_err_line "kmill convert: -o -: a dataset cannot be written to standard output (its index is written last); give a file name"
[ ! -e ./- ] && pass || fail "convert -o - created a file named -"
expect_status 2 "$KMILL" train d.kmx -o -
expect_err_line "kmill train: -o -: a model cannot be written to standard output; give a file name"
expect_status 2 "$KMILL" train --rfm --log - d.kmx -o new.kmm
expect_err_line "kmill train: --log -: the log cannot be written to standard output; give a file name"
expect_status 0 "$KMILL" predict m.kmm d.kmx -o -
[ "$(head -n 1 out)" = prediction ] && [ ! -e ./- ] && pass || fail "predict -o -: $(ls -A)"

# a dataset or model that is a pipe: refused at once, not waited for
mkfifo fifo
expect_status 1 "$KMILL" info fifo
expect_err_line "kmill info: fifo: a pipe, not a regular file; give the dataset or model as a file"
expect_status 1 "$KMILL" cat fifo
expect_err_line "kmill cat: fifo: a pipe, not a regular file; give the dataset as a file"
expect_status 1 "$KMILL" predict fifo d.kmx
expect_err_line "kmill predict: fifo: a pipe, not a regular file; give the model as a file"
expect_status 1 "$KMILL" features fifo
expect_err_line "kmill features: fifo: a pipe, not a regular file; give the model as a file"
expect_status 1 "$KMILL" info /dev/null
expect_err_line "kmill info: /dev/null: a character device, not a regular file; give the dataset or model as a file"

# an output that is a device is written in place, never renamed over
# (as root that would replace /dev/null with a file); a FIFO is refused
expect_status 0 "$KMILL" gen lowrank -q -n 5 -o /dev/null && [ -c /dev/null ] && pass ||
    fail "gen -o /dev/null: $(ls -l /dev/null)"
expect_status 0 "$KMILL" predict m.kmm d.kmx -o /dev/null && [ -c /dev/null ] && pass ||
    fail "predict -o /dev/null: $(ls -l /dev/null)"
expect_status 1 "$KMILL" predict m.kmm d.kmx -o fifo &&
    expect_err_line "kmill predict: fifo: not a regular file or a device; write to standard output (-o -) and redirect that"

# a write error on standard output: one line
if [ -w /dev/full ]; then
    "$KMILL" cat d.kmx >/dev/full 2>err; st=$?
    [ $st -eq 1 ] && [ "$(wc -l <err)" -eq 1 ] && pass || fail "cat >/dev/full: exit $st: $(cat err)"
    "$KMILL" predict m.kmm d.kmx >/dev/full 2>err; st=$?
    [ $st -eq 1 ] && [ "$(wc -l <err)" -eq 1 ] && pass || fail "predict >/dev/full: exit $st: $(cat err)"
    "$KMILL" eval m.kmm d.kmx >/dev/full 2>err; st=$?
    [ $st -eq 1 ] && pass || fail "eval >/dev/full: exit $st"
    expect_err_line "kmill eval: error writing standard output: No space left on device"
    [ "$(wc -l <err)" -eq 1 ] && pass || fail "eval >/dev/full: $(cat err)"
fi

# a full --tmpdir: the message names the input and the directory
mkdir tmp
awk 'BEGIN { print "a,b,label"; for (i = 0; i < 20000; i++) print i % 13 "," i % 7 "," (i % 2 ? "x" : "y") }' >tr.csv
KMILL_FAULT_ENOSPC_AFTER=1000 expect_status 1 "$KMILL" train --tmpdir tmp tr.csv -o new.kmm
expect_err_line "kmill train: cannot convert tr.csv into a temporary dataset in tmp: No space left on device"
[ -z "$(ls -A tmp)" ] && [ ! -e new.kmm ] && pass || fail "left after a full --tmpdir: $(ls -A . tmp)"
finish
