#!/bin/sh
# tests/cli/funclen.sh - no function in src/ is longer than 120 lines unless
# it says why. A function's length runs from the line with its name to its
# closing brace. A longer one passes only when the comment directly above its
# definition (between it and the previous declaration, function or
# #include/#define) has a sentence saying why it must be one piece, containing
# the words "one piece", e.g.
#     /* ... It is one piece because the three passes share the row buffer
#      * and splitting it would copy it twice. */
# Long functions are hard to review and to test; the marker makes each
# exception a decision written next to the code.
# The functions are found by an awk brace counter that skips comments,
# strings, character constants and preprocessor lines; it gives the same
# names and lengths as universal-ctags on this code, and fails on a file
# whose braces do not balance (e.g. an #if with a brace in each branch).
. "$top_srcdir/tests/cli/lib.sh"
MAX=120

(cd "$top_srcdir" && find src -name '*.[ch]' | LC_ALL=C sort) >srcs
(cd "$top_srcdir" && awk '
function reset() { hdr = ""; cmt = ""; pdepth = 0 }
function check() { if (depth || incmt) print "bad", file }
FNR == 1 { check(); file = FILENAME; depth = 0; incmt = 0; pp = 0; fn = ""; reset() }
!incmt && (pp || /^[ \t]*#/) {
    pp = /\\$/
    if (depth == 0 && /^[ \t]*#[ \t]*(include|define)/) reset()
    next }
{ n = length($0)
  for (i = 1; i <= n; i++) {
    c = substr($0, i, 1); c2 = substr($0, i, 2)
    if (incmt) { if (c2 == "*/") { incmt = 0; i++ } else if (!depth) cmt = cmt c; continue }
    if (c2 == "/*" || c2 == "//") {                 # a comment: keep it at top level
        if (!depth) { if (code) cmt = ""; code = 0; cmt = cmt " " }
        if (c2 == "//") { if (!depth) cmt = cmt substr($0, i + 2); break }
        incmt = 1; i++; continue }
    if (c == "\"" || c == "'\''") {                 # a string or character constant
        for (j = i + 1; j <= n; j++) { d = substr($0, j, 1)
            if (d == "\\") j++; else if (d == c) break }
        i = j; if (!depth) hdr = hdr "\"\""; continue }
    if (c == "{") {
        if (!depth) {                               # a function: "... name(...) {"
            h = hdr; while (gsub(/\([^()]*\)/, "@", h)) ;
            if (h ~ /[A-Za-z_][A-Za-z0-9_]*[ \t]*@[ \t]*$/ && h !~ /=/ &&
                h !~ /^[ \t]*(typedef|struct|union|enum)[ \t]/) {
                fn = h; sub(/[ \t]*@[ \t]*$/, "", fn); sub(/.*[^A-Za-z0-9_]/, "", fn)
                start = nline; fcmt = tolower(cmt); gsub(/[ \t*\/]+/, " ", fcmt) } }
        depth++; continue }
    if (c == "}") {
        if (--depth == 0) {
            if (fn != "") print "fn", FILENAME, start, fn, FNR - start + 1, (index(fcmt, "one piece") > 0)
            fn = ""; reset() }
        if (depth < 0) { print "bad", FILENAME; depth = 0 }
        continue }
    if (depth) continue
    if (c == ";") { reset(); continue }
    if (c !~ /[ \t]/) code = 1
    if (c == "(" && pdepth++ == 0) nline = FNR
    if (c == ")") pdepth--
    hdr = hdr c }
  if (!depth) { hdr = hdr " "; if (incmt) cmt = cmt " " } }
END { check() }' $(cat "$T/srcs")) >funcs

[ -s funcs ] || { echo "no functions found under $top_srcdir/src"; exit 99; }
while read -r kind file line name len marked; do
    if [ "$kind" = bad ]; then
        fail "funclen: $file: braces do not balance outside comments and strings"
    elif [ "$len" -le $MAX ]; then
        pass
    elif [ "$marked" = 1 ]; then
        echo "funclen: $file:$line: $name is $len lines, one piece by its comment"
        pass
    else
        fail "funclen: $file:$line: $name is $len lines (over $MAX); split it, or say in the comment above it why it must be one piece"
    fi
done <funcs
finish
