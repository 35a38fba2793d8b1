#!/bin/sh
# tests/cli/layers-selftest.sh - layers.sh can fail: run on a small tree built
# here with one violation of each kind it checks, it must print exactly the
# expected line for each and exit 1; on a clean tree (downward calls and
# includes, a cycle among the binary's files, a stale object the Makefile
# does not name) it must pass. Each tree is a few C files compiled with
# ${CC:-cc} -c and a Makefile naming their objects as automake does.
. "$top_srcdir/tests/cli/lib.sh"

CC=${CC:-cc}
set -- $CC
command -v "$1" >/dev/null 2>&1 || { echo "no C compiler ($CC); skipped"; exit 77; }
command -v "${NM:-nm}" >/dev/null 2>&1 || { echo "nm not found; skipped"; exit 77; }

# put FILE: stdin to FILE (under the current directory), making its folder.
put() { mkdir -p "$(dirname "$1")" && cat >"$1"; }

# compile FILE.c...: one compiler run (the files' base names differ), each
# object moved beside its source.
compile() {
    $CC -Iinclude -Isrc -c "$@" || { echo "$CC -c failed"; exit 99; }
    for c in "$@"; do b=${c##*/}; mv "${b%.c}.o" "${c%.c}.o" || exit 99; done
}

# makefile OBJ...: a Makefile naming these objects, and only them, as
# automake does.
makefile() {
    { printf 'am_libkmill_a_OBJECTS ='
      for o in "$@"; do printf ' \\\n\t%s' "${o%.o}.\$(OBJEXT)"; done
      printf '\nOBJEXT = o\n'; } >Makefile
}

# check DIR STATUS: layers.sh on DIR exits STATUS and prints exactly DIR.want.
check() {
    expect_status "$2" env LAYERS_SRCDIR="$T/$1" LAYERS_BUILDDIR="$T/$1" \
        ${SHELL:-/bin/sh} "$top_srcdir/tests/cli/layers.sh" || { cat out; return; }
    if diff -u "$1.want" out >diff; then pass; else
        fail "layers.sh on the $1 tree: output differs from $1.want:"; cat diff
    fi
}

# ---- a tree with one violation of each kind --------------------------------
cd "$T" && mkdir bad && cd bad || exit 99
# A call up: core uses model.
put src/core/a.c <<'EOF'
int model_b(void);
int core_a(void) { return model_b(); }
EOF
put src/model/b.c <<'EOF'
int model_b(void) { return 2; }
EOF
# Two files of one layer that call each other.
put src/data/x.c <<'EOF'
int data_y(int n);
int data_x(int n) { return n > 0 ? data_y(n - 1) : 0; }
EOF
put src/data/y.c <<'EOF'
int data_x(int n);
int data_y(int n) { return n > 0 ? data_x(n - 1) : 1; }
EOF
# A cycle of three: p -> q -> r -> p.
put src/solve/p.c <<'EOF'
int solve_q(int n);
int solve_p(int n) { return n > 0 ? solve_q(n - 1) : 0; }
EOF
put src/solve/q.c <<'EOF'
int solve_r(int n);
int solve_q(int n) { return n > 0 ? solve_r(n - 1) : 0; }
EOF
put src/solve/r.c <<'EOF'
int solve_p(int n);
int solve_r(int n) { return n > 0 ? solve_p(n - 1) : 0; }
EOF
# Includes going up, using nothing from the headers: a public header whose
# layer nm gives (model, from model_b), and a folder's header by a relative
# path.
put include/kmill/m.h <<'EOF'
int model_b(void);
EOF
put src/rfm/r.h <<'EOF'
int rfm_z(void);
EOF
put src/kern/k.c <<'EOF'
#include <kmill/m.h>
#include "../rfm/r.h"
int kern_k(void) { return 3; }
EOF
# A header declaring functions of two layers; one declaring nothing nm sees.
# Names in comments and braces are not declarations (data_x, data_y would
# add data to the list).
put include/kmill/mix.h <<'EOF'
/* data_x, in a comment */
int core_a(void);
struct mix { int data_y; };
int model_b(void);
EOF
put include/kmill/types.h <<'EOF'
typedef struct { double v; } km_fake;
EOF
# A folder that is in no layer.
put src/misc/z.c <<'EOF'
int misc_z(void) { return 5; }
EOF
compile src/*/*.c
makefile src/*/*.o
cd "$T" || exit 99
cat >bad.want <<'EOF'
FAIL: layers: src/misc/z.o: folder misc is in no layer (add it to RANKS)
FAIL: layers: src/core/a.o (core) uses model_b from src/model/b.o (model)
FAIL: layers: cycle: src/data/x.o uses data_y from src/data/y.o, which uses data_x from src/data/x.o
FAIL: layers: cycle: src/solve/p.o uses solve_q from src/solve/q.o, which uses solve_r from src/solve/r.o, which uses solve_p from src/solve/p.o
FAIL: layers: include/kmill/mix.h mixes layers: core (core_a); model (model_b)
FAIL: layers: include/kmill/types.h declares nothing nm sees; give its layer in HEADER_LAYERS
FAIL: layers: src/kern/k.c (kern) includes kmill/m.h (model)
FAIL: layers: src/kern/k.c (kern) includes ../rfm/r.h (rfm)
0 passed, 8 failed
EOF
check bad 1

# ---- a clean tree ----------------------------------------------------------
mkdir clean && cd clean || exit 99
put include/kmill/c.h <<'EOF'
int core_c(void);
EOF
put src/core/c.c <<'EOF'
#include "kmill/c.h"
int core_c(void) { return 1; }
EOF
put include/kmill/d.h <<'EOF'
int data_d(void);
EOF
put src/data/local.h <<'EOF'
#include <kmill/c.h>
EOF
put src/data/d.c <<'EOF'
#include "local.h"
int data_d(void) { return core_c(); }
EOF
put src/model/m.c <<'EOF'
#include <kmill/c.h>
#include <kmill/d.h>
int model_m(void) { return data_d() + core_c(); }
EOF
# The binary's files may call each other (its command table and commands).
put src/cli/main.c <<'EOF'
#include <kmill/d.h>
int cli_cmd(int n);
int cli_main(int n) { return n > 0 ? cli_cmd(n - 1) : data_d(); }
EOF
put src/cli/cmd.c <<'EOF'
int cli_main(int n);
int model_m(void);
int cli_cmd(int n) { return n > 0 ? cli_main(n - 1) : model_m(); }
EOF
# An object of a removed file, calling up: not in the Makefile, not looked at.
put src/core/old.c <<'EOF'
int model_m(void);
int core_old(void) { return model_m(); }
EOF
compile src/*/*.c
rm src/core/old.c
makefile src/cli/cmd.o src/cli/main.o src/core/c.o src/data/d.o src/model/m.o
# Objects outside src/ (the unit tests') are not looked at (this one is not
# even built).
echo 'am_tests_kmill_unit_OBJECTS = tests/unit/t.$(OBJEXT)' >>Makefile
cd "$T" || exit 99
echo "1 passed, 0 failed" >clean.want
check clean 0

finish
