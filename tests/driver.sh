#!/bin/sh
# tests/driver.sh - runs one test under `make check` (SH_LOG_COMPILER).
# Output goes to the test's .log as usual; in addition the Criterion
# summary line, and the whole output of a failing test, are copied to
# file descriptor 9, which the Makefile points at make's own stderr, so
# they show in the output of `make check` itself.
out=$(mktemp "${TMPDIR:-/tmp}/kmill-test.XXXXXX") || exit 99
${SHELL:-/bin/sh} "$@" >"$out" 2>&1 </dev/null
st=$?
cat "$out"
have9=0
{ true >&9; } 2>/dev/null && have9=1
if [ $have9 = 1 ]; then
    grep 'Synthesis:' "$out" >&9
    if [ $st -ne 0 ] && [ $st -ne 77 ]; then
        echo "---- output of failing test $1 (exit $st) ----" >&9
        sed 's/^/  | /' "$out" | tail -n 200 >&9
        echo "---- end of $1 ----" >&9
    fi
fi
rm -f "$out"
exit $st
