#!/bin/sh
# tests/cli/funclen-selftest.sh - funclen.sh on a small tree written here:
# a function of 121 lines fails it, the same with "one piece" in the
# comment above passes, and one of 120 lines passes, so the real check is
# known to be able to fail.
. "$top_srcdir/tests/cli/lib.sh"

# fake DIR LINES MARK: DIR/src/f.c holding one function of LINES lines
fake() {
    mkdir -p "$1/src" "$1/tests/cli"
    cp "$top_srcdir/tests/cli/lib.sh" "$1/tests/cli/"
    {
        echo '#include <stdio.h>'
        if [ "$3" = mark ]; then echo '/* It is one piece because it is a test. */'
        else echo '/* Adds up. */'; fi
        echo 'int f(int x)'
        echo '{'
        i=3
        while [ "$i" -lt "$2" ]; do echo '    x += 1; /* { */'; i=$((i + 1)); done
        echo '    return x; }'
    } >"$1/src/f.c"
}
run() { top_srcdir=$PWD/$1 sh "$top_srcdir/tests/cli/funclen.sh" >"$1.out" 2>&1; }

fake long 121 no
if run long; then fail "a 121-line function passed: $(cat long.out)"; else pass; fi
grep -q "^FAIL: funclen: src/f.c:3: f is 121 lines (over 120)" long.out && pass ||
    fail "unexpected output: $(cat long.out)"
fake marked 121 mark
run marked && pass || fail "a marked 121-line function failed: $(cat marked.out)"
fake short 120 no
run short && pass || fail "a 120-line function failed: $(cat short.out)"
finish
