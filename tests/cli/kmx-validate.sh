#!/bin/sh
# The .kmx reader validates what it will index with, not only checksums:
# files whose CRCs are all valid but whose content is inconsistent (made by
# tests/kmx-craft) are refused by every command with one line naming the
# section and the value, exit 1 (issue 15, finding 3 and the validation).
. "$top_srcdir/tests/cli/lib.sh"
: "${KMX_CRAFT:?KMX_CRAFT must name the kmx-craft helper}"

# check FILE MESSAGE CMD...: CMD exits 1 with "kmill CMD: FILE: MESSAGE"
check() {
    f=$1 msg=$2; shift 2
    expect_status 1 "$KMILL" "$@" &&
        expect_err_line "kmill $1: $f: $msg" &&
        { [ "$(wc -l <err)" -eq 1 ] && pass || fail "$*: more than one line: $(cat err)"; }
}

"$KMX_CRAFT" make ok.kmx 40 || fail "kmx-craft make"
expect_status 0 "$KMILL" info --verify ok.kmx && expect_contains out "verified: 3 chunks"
expect_status 0 "$KMILL" train -q --bandwidth 1 ok.kmx -o m.kmm

# finding 3: a category code of -1 with valid checksums, refused when its
# chunk is decoded, with the same message by every command
"$KMX_CRAFT" make neg.kmx 40 35 1 -1
msg="chunk 2: row 35, column 'colour': category code -1 outside its 4 levels"
check neg.kmx "$msg" info --verify neg.kmx
check neg.kmx "$msg" cat neg.kmx
check neg.kmx "$msg" cat --io pread --rows 32:33 neg.kmx
check neg.kmx "$msg" predict m.kmm neg.kmx
check neg.kmx "$msg" eval m.kmm neg.kmx
check neg.kmx "$msg" train -q --bandwidth 1 neg.kmx -o m2.kmm
[ ! -e m2.kmm ] && pass || fail "train left a model behind"
# chunks that are not read are not checked: rows 0..31 print
expect_status 0 "$KMILL" cat --rows 0:32 neg.kmx
# the label code of -1 during eval, a code past the levels, a fraction
"$KMX_CRAFT" make lab.kmx 40 3 2 -1
check lab.kmx "chunk 0: row 3, column 'label': category code -1 outside its 2 levels" eval m.kmm lab.kmx
"$KMX_CRAFT" make big.kmx 40 20 1 4
check big.kmx "chunk 1: row 20, column 'colour': category code 4 outside its 4 levels" cat big.kmx
"$KMX_CRAFT" make frac.kmx 40 17 1 1.5
check frac.kmx "chunk 1: row 17, column 'colour': category code 1.5 is not a whole number" info --verify frac.kmx
# a missing category (NaN) is fine
"$KMX_CRAFT" make nan.kmx 40 17 1 nan
expect_status 0 "$KMILL" info --verify nan.kmx

# metadata and index: one field changed, every checksum recomputed;
# refused at open by info, info --verify and cat alike
patched() { # FIELD VALUE MESSAGE
    cp ok.kmx p.kmx && "$KMX_CRAFT" patch p.kmx "$1" "$2" || fail "kmx-craft patch $1"
    for cmd in info "info --verify" cat; do
        check p.kmx "$3" $cmd p.kmx
    done
}
patched meta.srclen 1000 "metadata: source name: length 1000 exceeds the 242 bytes left in the section"
patched meta.0.type 2 "metadata: column 1: unknown type 2 (0 numeric, 1 categorical)"
patched meta.1.namelen 99999 "metadata: column 2's name: length 99999 exceeds the 168 bytes left in the section"
patched meta.0.nlevels 3 "metadata: numeric column 'x' has 3 levels (should be 0)"
patched meta.1.nlevels 20000000 "metadata: column 'colour': 20000000 levels exceed kmill's limit of 16777216"
patched meta.1.nlevels 1000 "metadata: column 'colour': 1000 levels do not fit in the 158 bytes left in the section"
patched meta.1.levellen 4000 "metadata: column 'colour' level 0: length 4000 exceeds the 154 bytes left in the section"
patched meta.2.count 41 "metadata: column 'label': statistics count 41 + missing 0 is not the 40 rows"
patched meta.0.min 5 "metadata: column 'x': statistics out of range (min 5, max 0.978714, sum 19.0665, sum of squares 12.5162)"
patched meta.0.min nan "metadata: column 'x': statistics out of range (min nan, max 0.978714, sum 19.0665, sum of squares 12.5162)"
patched ix.0.offset 4097 "chunk index: chunk 0: offset 4097 is not a multiple of 4096"
patched ix.0.offset 0 "chunk index: chunk 0: offset 0 is inside the file header (chunks start at 4096)"
# chunk K's bytes (header, payload, statistics) from its index entry: the
# payload size depends on the zstd version (the host is little-endian)
size=$(wc -c <ok.kmx)
span() { echo $((48 + $(od -An -tu4 -j $((size - 64 - 40 * (3 - $1) + 24)) -N4 ok.kmx) + 3 * 32)); }
patched ix.1.offset 4096 "chunk index: chunk 1: offset 4096 overlaps chunk 0, which ends at $((4096 + $(span 0)))"
patched ix.2.offset 16384 "chunk index: chunk 2: $(span 2) bytes at offset 16384 run past the metadata (at 16384)"
patched ix.1.first_row 17 "chunk index: chunk 1: first row 17, should be 16"
patched ix.0.nrows 0 "chunk index: chunk 0: 0 rows, outside 1..16 (rows per chunk)"
patched ix.0.nrows 17 "chunk index: chunk 0: 17 rows, outside 1..16 (rows per chunk)"
patched ix.2.raw_len 4 "chunk index: chunk 2: decoded size 4, should be 96 (rows x columns x 4)"
patched ix.2.filter 4 "chunk index: chunk 2: unknown filter 4"
cp ok.kmx p.kmx && "$KMX_CRAFT" patch p.kmx ix.2.nrows 7 && "$KMX_CRAFT" patch p.kmx ix.2.raw_len 84
check p.kmx "chunk index: the chunks hold 39 rows, the footer says 40" info p.kmx
finish
