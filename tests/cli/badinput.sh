#!/bin/sh
# Bad input to convert: one line naming file, line and field; exit 1; no
# output file (nor temporary) left behind; the input unchanged.
. "$top_srcdir/tests/cli/lib.sh"

# bad NAME CONTENT-PRINTF MESSAGE [OPTIONS...]
bad() {
    name=$1 content=$2 msg=$3
    shift 3
    printf "$content" >"$name"
    before=$(cksum <"$name")
    expect_status 1 "$KMILL" convert "$@" "$name" -o out.kmx
    expect_err_line "kmill convert: $msg"
    [ "$(wc -l <err)" -eq 1 ] && pass || fail "more than one line on stderr: $(cat err)"
    [ "$(ls -A | grep -c -e '^out.kmx$' -e '\.tmp\.')" -eq 0 ] && pass || fail "output left behind: $(ls -A)"
    [ "$(cksum <"$name")" = "$before" ] && pass || fail "$name was modified"
}

bad ragged.csv 'a,b,c\n1,2,3\n4,5\n' 'ragged.csv:3:3: 2 fields, expected 3 as in the header (--ragged=fill or skip to accept)'
bad long.csv 'a,b\n1,2,3\n' 'long.csv:2:3: 3 fields, expected 2 as in the header (--ragged=skip to drop such rows)'
bad unterminated.csv 'a,b\n1,"abc\n2,3\n' 'unterminated.csv:2:2: unterminated quoted field'
bad numeric.csv 'a,b\n1,2\n3,abc\n' 'numeric.csv:3:2: expected a number, got "abc"' --numeric b
bad empty.csv '' 'empty.csv: empty input (no header, no data)'
bad header.csv 'a,b,c\n' 'header.csv: no data rows (only a header)'
bad dup.csv 'x,y,x\n1,2,3\n' 'dup.csv:1:3: duplicate column name '"'x'"' (also column 1)'
bad garbage.csv 'a,b\n1,\001\002\000\003\n' 'garbage.csv:2:2: binary data (NUL byte); is this a CSV file?'
bad quote.csv 'a,b\n1,ab"c\n' 'quote.csv:2:2: quote inside an unquoted field (quote the field, or use --lazy-quotes)'
bad after.csv 'a,b\n1,"ab"c\n' 'after.csv:2:2: text after the closing quote of a quoted field (use --lazy-quotes to accept it)'
bad levels.csv 'id,v\na,1\nb,2\nc,3\n' 'levels.csv:4:1: column '"'id'"' has more than 2 distinct values; if it is an identifier, --drop it; otherwise raise --max-levels' --max-levels 2
# a record longer than the limit: the buffer does not grow without bound
awk 'BEGIN { printf "a,b\n1,"; for (i = 0; i < 300000; i++) printf "x"; printf "\n" }' >longline.csv
before=$(cksum <longline.csv)
expect_status 1 "$KMILL" convert --max-line 64K longline.csv -o out.kmx
expect_err_line "kmill convert: longline.csv:2: record longer than 65536 bytes (raise --max-line)"
[ ! -e out.kmx ] && pass || fail "output left behind"
# ... but is accepted within the limit
expect_status 0 "$KMILL" convert longline.csv -o ok.kmx
# gzip input is recognised
printf 'a,b\n1,2\n' | gzip >gz.csv
expect_status 1 "$KMILL" convert gz.csv -o out.kmx
expect_err_line "kmill convert: gz.csv: gzip-compressed; decompress it first, e.g. 'zcat gz.csv | kmill convert - -o OUT.kmx'"

# line numbers stay right across the parallel blocks (CRLF and quoted
# newlines included): an error on line 250501 of a 7 MB file
awk 'BEGIN { printf "a,b,c,d\r\n"; for (i = 2; i <= 300000; i++) {
    if (i == 250501) printf "1,2,x,t\r\n"; else if (i % 1000 == 0) { printf "1,2,3,\"q\nq\"\r\n"; i++ }
    else printf "%d,%d.5,%d,t\r\n", i, i, i } }' >lines.csv
expect_status 1 "$KMILL" convert --numeric c --drop d lines.csv -o out.kmx
expect_err_line 'kmill convert: lines.csv:250501:3: expected a number, got "x"'
# and without quotes or CRs, where the blocks are split by one count of LFs
awk 'BEGIN { print "a,b"; for (i = 2; i <= 300000; i++) print i "," (i == 250001 ? "abc" : i % 7) }' >lf.csv
expect_status 1 "$KMILL" convert --numeric b lf.csv -o out.kmx
expect_err_line 'kmill convert: lf.csv:250001:2: expected a number, got "abc"'

# errors reading from a pipe are named <stdin>
printf 'a,b\n1,2,3\n' | "$KMILL" convert - -o out.kmx 2>err; st=$?
[ $st -eq 1 ] && pass || fail "stdin ragged exit $st"
expect_err_line "kmill convert: <stdin>:2:3: 3 fields, expected 2 as in the header (--ragged=skip to drop such rows)"

# the disk fills up while writing (fault injection): no output, no temporary
awk 'BEGIN { print "a,b,c"; for (i = 0; i < 200000; i++) print i "," i * 0.5 "," i % 7 }' >big.csv
KMILL_FAULT_ENOSPC_AFTER=100000 "$KMILL" convert --chunk-rows 1000 big.csv -o out.kmx 2>err; st=$?
[ $st -eq 1 ] && pass || fail "ENOSPC exit $st"
expect_err_line "kmill convert: error writing out.kmx: No space left on device"
[ "$(ls -A | grep -c -e '^out.kmx$' -e '\.tmp\.')" -eq 0 ] && pass || fail "output left behind after ENOSPC: $(ls -A)"
# an existing output survives a failed conversion untouched
expect_status 0 "$KMILL" convert big.csv -o keep.kmx
sum=$(cksum <keep.kmx)
KMILL_FAULT_ENOSPC_AFTER=50000 "$KMILL" convert big.csv -o keep.kmx 2>err
[ "$(cksum <keep.kmx)" = "$sum" ] && pass || fail "failed conversion damaged the existing output"

# interrupted (SIGINT) while reading a pipe: exit 130, nothing left behind
mkfifo slow
( head -c 2000000 big.csv; sleep 30 ) >slow &
feeder=$!
"$KMILL" convert slow -o out.kmx 2>err &
pid=$!
sleep 1
kill -INT $pid
wait $pid; st=$?
kill $feeder 2>/dev/null; wait $feeder 2>/dev/null
[ $st -eq 130 ] && pass || fail "SIGINT exit $st: $(cat err)"
expect_err_line "kmill convert: interrupted"
[ "$(ls -A | grep -c -e '^out.kmx$' -e '\.tmp\.')" -eq 0 ] && pass || fail "output left behind after SIGINT: $(ls -A)"

# the memory budget: a small one still converts (smaller blocks and chunks),
# one too small for a single row says what it needs
expect_status 0 "$KMILL" convert --mem 16M --threads 2 big.csv -o small.kmx
"$KMILL" cat small.kmx | cmp -s - big.csv && pass || fail "--mem 16M output differs"
awk 'BEGIN { for (r = 0; r < 2; r++) { for (i = 1; i <= 300000; i++) printf "%s%d", (i > 1 ? "," : ""), r ? i % 7 : i; printf "\n" } }' >wide.csv
expect_status 1 "$KMILL" convert --mem 16M --threads 2 --no-header wide.csv -o out.kmx
grep -q "^kmill convert: --mem 16.0 MiB is too small: converting 300000 columns needs at least .* (process and dictionaries 8.00 MiB, text blocks .*, chunk buffers .*)$" err && pass || fail "wide --mem: $(cat err)"
[ ! -e out.kmx ] && pass || fail "output left behind"

# unwritable output locations
expect_status 1 "$KMILL" convert big.csv -o nodir/out.kmx
expect_err_line "kmill convert: cannot create nodir/out.kmx: No such file or directory"
expect_status 1 "$KMILL" convert big.csv -o big.csv/out.kmx
expect_err_line "kmill convert: cannot create big.csv/out.kmx: Not a directory"
mkdir adir
expect_status 1 "$KMILL" convert big.csv -o adir
expect_err_line "kmill convert: adir: is a directory"
expect_status 1 "$KMILL" convert nosuch.csv -o out.kmx
expect_err_line "kmill convert: cannot open nosuch.csv: No such file or directory"

# usage errors: exit 2
expect_status 2 "$KMILL" convert big.csv
expect_err_line "kmill convert: no output file (-o OUT.kmx)"
expect_status 2 "$KMILL" convert --drop nosuch big.csv -o out.kmx
expect_err_line "kmill convert: --drop: no column 'nosuch' (columns are named in the header, or numbered 1 to 3)"
expect_status 2 "$KMILL" convert --level 99 big.csv -o out.kmx
expect_err_line "kmill convert: invalid --level '99' (expected an integer from -7 to 19)"
expect_status 2 "$KMILL" convert --level 0 big.csv -o out.kmx
expect_err_line "kmill convert: invalid --level '0' (1 to 19, or -7 to -1 for speed)"
expect_status 2 "$KMILL" convert --ragged maybe big.csv -o out.kmx
expect_status 2 "$KMILL" convert -d ab big.csv -o out.kmx
expect_status 2 "$KMILL" convert a.csv b.csv -o out.kmx
[ "$(ls -A | grep -c -e '^out.kmx$' -e '\.tmp\.')" -eq 0 ] && pass || fail "output left behind: $(ls -A)"
finish
