#!/bin/sh
# Every man page lints clean, and every command has one.
. "$top_srcdir/tests/cli/lib.sh"
if [ -z "${MANDOC:-}" ]; then
    echo "mandoc not found: apt-get install mandoc"
    exit 77
fi
"$MANDOC" -Tlint -Wwarning "$top_srcdir"/man/* >lint 2>&1
[ -s lint ] && fail "mandoc -Tlint: $(cat lint)" || pass
for c in $("$KMILL" --help | sed -n 's/^  \([a-z][a-z]*\)  .*/\1/p'); do
    [ "$c" = help ] && continue
    [ -f "$top_srcdir/man/kmill-$c.1" ] && pass || fail "no man page man/kmill-$c.1"
done
finish
