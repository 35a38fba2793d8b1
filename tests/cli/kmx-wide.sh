#!/bin/sh
# Issue 15, finding 10: a CSV of a few rows and more than 524288 columns
# made one-row chunks, each with 32 bytes of statistics a column beside 4
# bytes of values (5 x 1000000 became 216 MiB). Chunks now hold at least
# 64 rows: here one chunk, so one statistics block.
. "$top_srcdir/tests/cli/lib.sh"

n=530000
awk -v n=$n 'BEGIN { for (j = 0; j < n; j++) printf "%sc%d", (j ? "," : ""), j; print "";
  for (i = 0; i < 3; i++) { for (j = 0; j < n; j++) printf "%s%d", (j ? "," : ""), (i + j) % 7 == 0; print "" } }' >wide.csv
expect_status 0 "$KMILL" convert -q wide.csv -o wide.kmx
expect_status 0 "$KMILL" info --verify wide.kmx && expect_contains out "chunks:   1 of up to 64 rows"
# the values (4 bytes each), one statistics block (32 a column) and the
# metadata (about 67 bytes a column: type, name, level count, statistics)
size=$(wc -c <wide.kmx)
[ "$size" -lt $((4 * 3 * n + 32 * n + 70 * n)) ] && pass || fail "wide.kmx is $size bytes"
# the values read back
"$KMILL" cat --no-header --rows 2:3 wide.kmx | awk -F, -v n=$n '{ for (j = 1; j <= n; j++) if ($j != ((2 + j - 1) % 7 == 0)) { print "column " j ": " $j; exit 1 } }' &&
    pass || fail "row 2 reads back differently"
finish
