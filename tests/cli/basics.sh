#!/bin/sh
# The front end: --help, --version, dispatch, usage errors, exit statuses.
. "$top_srcdir/tests/cli/lib.sh"

expect_status 0 "$KMILL" --version && expect_contains out "kmill "
ver=$(sed -n 's/^AC_INIT(\[kmill\], \[\([^]]*\)\].*/\1/p' "$top_srcdir/configure.ac")
[ "$(cat out)" = "kmill $ver" ] && pass || fail "--version printed '$(cat out)', want 'kmill $ver'"

expect_status 0 "$KMILL" --help && expect_contains out "Commands:"
for c in help; do
    grep -q "^  $c " out && pass || fail "--help does not list '$c'"
done

expect_status 2 "$KMILL" nosuchcmd
expect_err_line "kmill: unknown command 'nosuchcmd'"
expect_status 2 "$KMILL" --nosuchopt
expect_err_line "kmill: unknown option '--nosuchopt'"
expect_status 2 "$KMILL"

expect_status 0 "$KMILL" help help && expect_contains out "Usage: kmill help"
expect_status 0 "$KMILL" help --help && expect_contains out "Usage: kmill help"
expect_status 2 "$KMILL" help nosuchcmd
expect_err_line "kmill help: unknown command 'nosuchcmd'"
expect_status 2 "$KMILL" help --bogus
expect_err_line "kmill help: unknown option '--bogus'"
expect_status 2 "$KMILL" help --mem lots
expect_err_line "kmill help: --mem: invalid size 'lots' (expected e.g. 512M, 4G, 50%)"
expect_status 2 "$KMILL" help --threads 0
expect_err_line "kmill help: invalid --threads '0' (expected an integer from 1 to 1024)"
expect_status 2 env KMILL_MEM=12Q "$KMILL" help
expect_err_line "kmill: KMILL_MEM: invalid size '12Q' (expected e.g. 512M, 4G, 50%)"

# a write error on stdout is reported, not lost
if [ -w /dev/full ]; then
    "$KMILL" --help >/dev/full 2>err; st=$?
    [ $st -eq 1 ] && pass || fail "--help >/dev/full exited $st"
    expect_contains err "kmill: error writing standard output: No space left on device"
fi
# a closed pipe is not an error
st=$( { "$KMILL" --help 2>err; echo $? >st; } | head -c 1 >/dev/null; cat st)
[ "$st" = 0 ] && pass || fail "kmill --help | head exited $st"
[ -s err ] && fail "stderr not empty after EPIPE: $(cat err)" || pass

finish
