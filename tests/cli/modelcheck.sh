#!/bin/sh
# tests/cli/modelcheck.sh - model files that are consistent with their
# checksums but not with themselves are refused with one line and exit 1,
# never a crash: a FEAT column of an unknown type (it used to clear
# nlevels floats past the feature rows: exit 134 or 139), a repeated
# section; and 200 single-byte flips of a small model each give the
# unflipped model's predictions or exit 1 with a one-line message.
. "$top_srcdir/tests/cli/lib.sh"

# u32 and u64 at a byte offset (the formats are little-endian, as the
# hosts configure accepts)
u32() { od -An -v -tu4 -j "$2" -N 4 "$1" | tr -d ' '; }
u64() { od -An -v -tu8 -j "$2" -N 8 "$1" | tr -d ' '; }
tag() { dd if="$1" bs=1 skip="$2" count=4 2>/dev/null; }

# put_u32 FILE OFFSET VALUE
put_u32() {
    printf "$(printf '\\%03o\\%03o\\%03o\\%03o' $(($3 & 255)) $(($3 >> 8 & 255)) \
        $(($3 >> 16 & 255)) $(($3 >> 24 & 255)))" |
        dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# crc32c FILE OFFSET LENGTH: CRC-32C (reflected 0x82F63B78) of the bytes
crc32c() {
    c=4294967295
    for b in $(od -An -v -tu1 -j "$2" -N "$3" "$1"); do
        c=$((c ^ b))
        for i in 1 2 3 4 5 6 7 8; do
            c=$(((c >> 1) ^ (-(c & 1) & 0x82F63B78)))
        done
    done
    echo $((c ^ 4294967295))
}

# section FILE TAG: the offset of the section's tag (24: after the header)
section() {
    p=24
    while [ "$(tag "$1" $p)" != "$2" ]; do
        [ "$(tag "$1" $p)" = "END " ] && return 1
        p=$((p + 16 + $(u64 "$1" $((p + 4)))))
    done
    echo $p
}

# fix_crc FILE POS: the CRC of the section at POS, recomputed
fix_crc() {
    n=$(u64 "$1" $(($2 + 4)))
    put_u32 "$1" $(($2 + 12 + n)) "$(crc32c "$1" $(($2 + 12)) "$n")"
}

# one numeric column and a categorical one of 400 levels: d = 401
awk 'BEGIN { print "x,c,label"; for (i = 0; i < 400; i++) print i % 7 ",v" i "," (i % 2 ? "yes" : "no") }' >w.csv
"$KMILL" convert -q w.csv -o w.kmx || exit 99
"$KMILL" train -q w.kmx -o m.kmm || exit 99

# The FEAT payload: task, scale, d (12 bytes), label "label" (9), nclasses
# (4), "no" (6), "yes" (7), ncols (4), column x (41 bytes: name 5, type,
# first, fill, shift, scale, nlevels), then column c: name at 83, type at
# 88, first at 92.
F=$(section m.kmm FEAT) || exit 99
[ "$(dd if=m.kmm bs=1 skip=$((F + 12 + 87)) count=1 2>/dev/null)" = c ] ||
    { echo "FEAT is not laid out as this test expects"; exit 99; }

# Finding 2: column c of type 5 starting at feature 400 passed the tiling
# check as one feature (400 + 1 <= d), while the transform cleared its 400
# levels from feature 400 on, past the end of the feature rows.
cp m.kmm type5.kmm
put_u32 type5.kmm $((F + 12 + 88)) 5
put_u32 type5.kmm $((F + 12 + 92)) 400
fix_crc type5.kmm "$F"
expect_status 1 "$KMILL" predict type5.kmm w.kmx &&
    expect_err_line "kmill predict: type5.kmm: section FEAT at byte $F: column 2 of 2: type 5 is not 0 (numeric) or 1 (categorical)"
[ "$(wc -l <err)" -eq 1 ] && pass || fail "more than one line: $(cat err)"
[ -s out ] && fail "output before the error: $(head -c 200 out)" || pass

# Column c categorical, but overlapping column x: refused too.
cp m.kmm overlap.kmm
put_u32 overlap.kmm $((F + 12 + 92)) 0
fix_crc overlap.kmm "$F"
expect_status 1 "$KMILL" eval overlap.kmm w.kmx &&
    expect_err_line "kmill eval: overlap.kmm: section FEAT at byte $F: column 2 of 2: first feature 0, expected 1 (the columns' features follow each other from 0)"

# Finding 5: PROV twice (the first copy leaked); every CRC is valid.
P2=$((24 + 16 + $(u64 m.kmm 28)))
{ head -c $P2 m.kmm; tail -c +25 m.kmm; } >dup.kmm
expect_status 1 "$KMILL" predict dup.kmm w.kmx &&
    expect_err_line "kmill predict: dup.kmm: section PROV appears twice (at bytes 24 and $P2)"

# 200 single-byte flips at random offsets of a small model (the worked
# example of formats/kmm.md, 476 bytes: every section is hit), each a
# random non-zero XOR
printf 'x,c,label\n1,a,yes\n2,b,no\n3,a,yes\nNA,b,no\n' >t.csv
"$KMILL" convert -q t.csv -o t.kmx || exit 99
"$KMILL" train -q t.kmx -o s.kmm || exit 99
"$KMILL" predict --scores s.kmm t.kmx >ref.csv || exit 99
# offset, the flipped byte in octal (POSIX awk has no xor: bit by bit)
od -An -v -tu1 s.kmm | awk -v seed=7 '
    { for (i = 1; i <= NF; i++) byte[n++] = $i }
    function xor(a, b,   r, p) {
        for (p = 1; a || b; p *= 2) {
            if (a % 2 != b % 2) r += p
            a = int(a / 2); b = int(b / 2)
        }
        return r + 0
    }
    END { srand(seed); for (k = 0; k < 200; k++) {
        off = int(rand() * n); x = 1 + int(rand() * 255)
        printf "%d %03o %d\n", off, xor(byte[off], x), x } }' >flips
same=0 refused=0
while read -r off oct x; do
    cp s.kmm f.kmm
    printf "\\$oct" | dd of=f.kmm bs=1 seek="$off" conv=notrunc 2>/dev/null
    timeout 10 "$KMILL" predict --scores f.kmm t.kmx >out 2>err
    st=$?
    if [ $st -eq 0 ]; then
        if cmp -s out ref.csv; then same=$((same + 1)); else fail "flip at $off (xor $x): exit 0 with other predictions"; fi
    elif [ $st -eq 1 ]; then
        l1= l2=
        { read -r l1; read -r l2; } <err
        case $l1 in
        "kmill predict: f.kmm: "?*) [ -z "$l2" ] && refused=$((refused + 1)) ||
            fail "flip at $off (xor $x): more than one line: $(head -c 300 err)" ;;
        *) fail "flip at $off (xor $x): exit 1 with the message: $(head -c 300 err)" ;;
        esac
    else
        fail "flip at $off (xor $x): exit $st (crash or hang): $(head -c 300 err)"
    fi
done <flips
echo "flips: $same gave the same predictions, $refused were refused"
[ $((same + refused)) -eq 200 ] && pass || fail "only $((same + refused)) of 200 flips behaved"
# all but the bytes of PROV's tag are covered by a checksum or the framing:
# so few refusals would mean the flips were not made
[ $refused -gt 150 ] && pass || fail "only $refused of 200 flips were refused"

finish
