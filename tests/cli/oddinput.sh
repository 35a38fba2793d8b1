#!/bin/sh
# Input that is not CSV, or CSV with odd bytes (issue 15, findings 1, 6
# and 9): one line naming the file (line and field where there is one),
# exit 1, nothing left behind; the same answer from a file and a pipe.
. "$top_srcdir/tests/cli/lib.sh"

# refused NAME MESSAGE CMD...: exit 1, exactly MESSAGE on one line, no output
refused() {
    name=$1 msg=$2
    shift 2
    expect_status 1 "$@"
    expect_err_line "$msg"
    [ "$(wc -l <err)" -eq 1 ] && pass || fail "$name: more than one line on stderr: $(cat err)"
    [ "$(ls -A | grep -c -e '^out\.' -e '\.tmp\.')" -eq 0 ] && pass || fail "$name: output left behind: $(ls -A)"
}

# finding 1: a NUL after a closing quote (--lazy-quotes) is binary data,
# not a category value; so is a NUL anywhere else, in the first block
# (caught before parsing) and far into the file (caught by the parser)
printf 'a\n"x"\0yz\n' >lazynul.csv
refused lazynul "kmill convert: lazynul.csv:2:1: binary data (NUL byte); is this a CSV file?" \
    "$KMILL" convert --lazy-quotes lazynul.csv -o out.kmx
refused lazynul-pipe "kmill convert: <stdin>:2:1: binary data (NUL byte); is this a CSV file?" \
    sh -c "'$KMILL' convert --lazy-quotes - -o out.kmx <lazynul.csv"
printf 'a,b\n1,"x"\0\n' >quotenul.csv
refused quotenul "kmill convert: quotenul.csv:2:2: binary data (NUL byte); is this a CSV file?" \
    "$KMILL" convert quotenul.csv -o out.kmx
printf 'a,b\n1,"x\ny\0"\n' >innul.csv
refused innul "kmill convert: innul.csv:3:2: binary data (NUL byte); is this a CSV file?" \
    "$KMILL" convert innul.csv -o out.kmx
awk 'BEGIN { print "a,b"; for (i = 0; i < 200000; i++) print "\"x\"y," i }' >farnul.csv
printf '"x"\0yz,1\n' >>farnul.csv
refused farnul "kmill convert: farnul.csv:200002:1: binary data (NUL byte); is this a CSV file?" \
    "$KMILL" convert --lazy-quotes farnul.csv -o out.kmx
refused farnul-pipe "kmill convert: <stdin>:200002:1: binary data (NUL byte); is this a CSV file?" \
    sh -c "cat farnul.csv | '$KMILL' convert --lazy-quotes - -o out.kmx"
# the values around it are kept whole: --lazy-quotes without a NUL
printf 'a,b\n"x"yz,1\nab"c,2\n' >lazy.csv
expect_status 0 "$KMILL" convert --lazy-quotes lazy.csv -o lazy.kmx
expect_status 0 "$KMILL" cat lazy.kmx
printf 'a,b\n"""x""yz",1\n"ab""c",2\n' >want.csv
cmp -s out want.csv && pass || fail "lazy values: $(cat out)"
rm -f lazy.kmx

# finding 9: binary input is refused in its first block, not after
# --max-line bytes (a device that never ends: a time limit would not help)
refused zero "kmill convert: /dev/zero:1:1: binary data (NUL byte); is this a CSV file?" \
    "$KMILL" convert /dev/zero -o out.kmx
# ... and when a block grows for want of a record end
{ awk 'BEGIN { print "a,b"; for (i = 0; i < 100000; i++) print i "," i }'; head -c 5000000 /dev/zero; } >tailzero.csv
refused tailzero "kmill convert: tailzero.csv:100002:1: binary data (NUL byte); is this a CSV file?" \
    "$KMILL" convert tailzero.csv -o out.kmx

# finding 6: compressed input, decided by content where the magic number
# is unambiguous, else by the name too; the same from a file and a pipe
printf 'a,b\n1,2\n' | gzip >gz.csv
refused gzip "kmill convert: gz.csv: gzip-compressed; decompress it first, e.g. 'zcat gz.csv | kmill convert - -o OUT.kmx'" \
    "$KMILL" convert gz.csv -o out.kmx
refused gzip-pipe "kmill convert: <stdin>: gzip-compressed; decompress it first, e.g. '... | zcat | kmill convert - -o OUT.kmx'" \
    sh -c "'$KMILL' convert - -o out.kmx <gz.csv"
# bzip2 (header and block magic), xz, zstd: by their magic numbers
printf 'BZh91AY&SY\001\002' >bz.dat
refused bzip2 "kmill convert: bz.dat: bzip2-compressed; decompress it first, e.g. 'bzcat bz.dat | kmill convert - -o OUT.kmx'" \
    "$KMILL" convert bz.dat -o out.kmx
printf '\3757zXZ\000\000\004' >xz.dat
refused xz "kmill convert: <stdin>: xz-compressed; decompress it first, e.g. '... | xzcat | kmill convert - -o OUT.kmx'" \
    sh -c "cat xz.dat | '$KMILL' convert - -o out.kmx"
printf '\050\265\057\375\004\000' >zst.dat
refused zstd "kmill convert: zst.dat: zstd-compressed; decompress it first, e.g. 'zstdcat zst.dat | kmill convert - -o OUT.kmx'" \
    "$KMILL" convert zst.dat -o out.kmx
# CSV that merely begins like bzip2 or gzip is CSV, named as a file or piped
printf 'BZh,x\n1,2\n' >bzh.csv
expect_status 0 "$KMILL" convert bzh.csv -o bzh.kmx
expect_status 0 sh -c "'$KMILL' convert - -o bzh2.kmx <bzh.csv"
"$KMILL" cat bzh.kmx | cmp -s - bzh.csv && pass || fail "BZh CSV changed"
printf '\037\213x,y\n1,2\n' >g.csv
expect_status 0 "$KMILL" convert g.csv -o g.kmx
expect_status 0 sh -c "cat g.csv | '$KMILL' convert - -o g2.kmx"
# ... unless the name says it is compressed
cp bzh.csv bzh.csv.bz2
refused bzname "kmill convert: bzh.csv.bz2: bzip2-compressed; decompress it first, e.g. 'bzcat bzh.csv.bz2 | kmill convert - -o OUT.kmx'" \
    "$KMILL" convert bzh.csv.bz2 -o out.kmx
rm -f bzh.kmx bzh2.kmx g.kmx g2.kmx

# finding 9: a dataset through a pipe, or where CSV is expected
printf 'x,y,label\n1,2,a\n3,4,b\n5,6,a\n7,8,b\n' >t.csv
expect_status 0 "$KMILL" convert t.csv -o t.kmx
expect_status 0 "$KMILL" train --bandwidth 1 t.kmx -o t.kmm
mkfifo fifo
( cat t.kmx >fifo & )
refused kmx-fifo "kmill predict: fifo: a kmill dataset (.kmx) cannot be read from a pipe or standard input; give its file name" \
    "$KMILL" predict t.kmm fifo
refused kmx-stdin "kmill predict: <stdin>: a kmill dataset (.kmx) cannot be read from a pipe or standard input; give its file name" \
    sh -c "cat t.kmx | '$KMILL' predict t.kmm -"
refused kmx-convert "kmill convert: t.kmx: a kmill dataset (.kmx), not CSV" \
    "$KMILL" convert t.kmx -o out.kmx
refused kmm-data "kmill predict: t.kmm: a kmill model (.kmm), not CSV" \
    "$KMILL" predict t.kmm t.kmm
# the dataset as a file still works
expect_status 0 "$KMILL" predict t.kmm t.kmx
finish
