#!/bin/sh
# The format test vectors: the valid one reads back, each damaged one is
# refused with its own one-line message and exit status 1, by both readers.
. "$top_srcdir/tests/cli/lib.sh"
V=$top_srcdir/formats/vectors

for io in pread uring; do
    expect_status 0 "$KMILL" cat --io $io "$V/valid.kmx"
    cmp -s out "$top_srcdir/tests/data/mixed.expected" && pass || fail "valid.kmx ($io) reads back differently: $(cat out)"
    if [ $io = uring ] && grep -q 'io_uring unavailable' err; then
        continue
    fi
    expect_status 0 "$KMILL" info --verify --io $io "$V/valid.kmx"
    expect_contains out "verified: 1 chunks"
done

check() { # FILE MESSAGE
    for cmd in "info" "info --verify" "cat"; do
        expect_status 1 "$KMILL" $cmd "$V/$1"
        expect_err_line "kmill ${cmd%% *}: $V/$1: $2"
    done
}
check bad-magic.kmx "not a kmill dataset (bad signature)"
check truncated.kmx "truncated or incomplete (no footer; was the conversion interrupted?)"
check major2.kmx "dataset format version 2.0 is not supported (this kmill reads 1.x); convert the CSV again with this kmill"
check required-feature.kmx "the file needs format features this kmill does not have (0x20)"
# a damaged chunk is found when it is read, not at open
expect_status 1 "$KMILL" info --verify "$V/flipped-chunk.kmx"
expect_err_line "kmill info: $V/flipped-chunk.kmx: chunk 0: checksum mismatch"
expect_status 1 "$KMILL" cat "$V/flipped-chunk.kmx"
expect_err_line "kmill cat: $V/flipped-chunk.kmx: chunk 0: checksum mismatch"
expect_status 1 "$KMILL" info "$T/nonexistent.kmx"
expect_err_line "kmill info: cannot open $T/nonexistent.kmx: No such file or directory"
printf 'x' >tiny.kmx
expect_status 1 "$KMILL" info tiny.kmx
expect_err_line "kmill info: tiny.kmx: not a kmill dataset (too short)"
finish
