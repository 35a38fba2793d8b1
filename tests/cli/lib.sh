# tests/cli/lib.sh - helpers for the CLI tests (sourced).
# Each test runs in its own scratch directory, removed at exit.
set -u
: "${KMILL:?KMILL must name the kmill binary}"
: "${top_srcdir:?}"
T=$(mktemp -d "${TMPDIR:-/tmp}/kmill-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 99
fails=0
passes=0

fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
pass() { passes=$((passes + 1)); }

# expect_status WANT CMD... : run CMD, keep stdout/stderr in out/err
expect_status() {
    want=$1; shift
    "$@" >out 2>err
    got=$?
    if [ "$got" -ne "$want" ]; then
        fail "'$*' exited $got, expected $want; stderr: $(head -c 400 err)"
        return 1
    fi
    pass
    return 0
}

# expect_err_line TEXT : stderr's first line must equal TEXT exactly
expect_err_line() {
    first=$(head -n 1 err)
    if [ "$first" != "$1" ]; then
        fail "stderr was '$first', expected '$1'"
        return 1
    fi
    pass
}

# expect_contains FILE TEXT : FILE has a line containing TEXT
expect_contains() {
    if ! grep -F -q -- "$2" "$1"; then
        fail "$1 does not contain '$2': $(head -c 400 "$1")"
        return 1
    fi
    pass
}

# expect_usage CMD MESSAGE ARGS... : `kmill CMD ARGS` is a usage error:
# exit 2, "kmill CMD: MESSAGE", then the pointer to --help
expect_usage() {
    cmd=$1; msg=$2; shift 2
    expect_status 2 "$KMILL" "$cmd" "$@" && expect_err_line "kmill $cmd: $msg"
    [ "$(sed -n 2p err)" = "Try 'kmill $cmd --help' for more information." ] && pass ||
        fail "$cmd $*: no pointer to --help: $(cat err)"
}

finish() {
    echo "$passes passed, $fails failed"
    [ "$fails" -eq 0 ]
    exit $?
}
