#!/bin/sh
# tests/cli/layers.sh - the source folders are layers, each calling only down:
#   core <- io <- data <- kern <- solve <- rfm, nn <- model <- cli
# (rfm and nn share a level; cli is the binary, the rest is libkmill.a).
# From `nm` of the built objects (the ones the Makefile names, under
# $top_builddir) and the sources' #include lines, this fails with one line for
#  - an object that uses a symbol defined in a higher layer;
#  - a cycle of calls between library objects (a <-> b, or a -> b -> c -> a),
#    in any layer: two files that need each other are one file or a missing
#    layer (the binary's own files are exempt, see below);
#  - a header that declares functions of two layers;
#  - a source or header that includes the header of a higher layer, even if
#    it uses nothing from it.
# A folder's layer is its name (src/kern/x.c is kern); a public header's layer
# is that of the objects defining the functions and data it declares.
# Adding a folder: add it to RANKS below.
. "$top_srcdir/tests/cli/lib.sh"

RANKS="core=0 io=1 data=2 kern=3 solve=4 rfm=5 nn=5 model=6 cli=7"
# Public headers that declare no library function or data (types and macros
# only) cannot be placed from nm; give their layer here, as "name.h=layer".
HEADER_LAYERS=""

NM=${NM:-nm}
if ! command -v "$NM" >/dev/null 2>&1; then
    echo "nm not found (binutils); set NM or install binutils"
    exit 77
fi
: "${top_builddir:?}"

# The objects of everything built from src/ (libkmill.a, the binary), as the
# Makefile names them: stale objects of moved files are not looked at.
awk '/\\$/ { l = l substr($0, 1, length($0) - 1) " "; next }
     { l = l $0 }
     l ~ /^OBJEXT *=/ { sub(/^[^=]*= */, "", l); ext = l }
     l ~ /^am_[A-Za-z0-9_]*_OBJECTS *=/ {
         sub(/^[^=]*=/, "", l); n = split(l, w)
         for (i = 1; i <= n; i++) if (w[i] ~ /^src\//) o[++no] = w[i] }
     { l = "" }
     END { for (i = 1; i <= no; i++) { sub(/\$\(OBJEXT\)$/, ext, o[i]); print o[i] } }' \
    "$top_builddir/Makefile" >objs
[ -s objs ] || { echo "no src/ objects in $top_builddir/Makefile"; exit 99; }
missing=$(cd "$top_builddir" && for o in $(cat "$T/objs"); do [ -f "$o" ] || echo "$o"; done)
[ -z "$missing" ] || { echo "not built (run make):" $missing; exit 99; }
(cd "$top_builddir" && $NM -P -A $(cat "$T/objs")) >nm.out || { echo "$NM failed"; exit 99; }

# Objects: upward uses and cycles. Input lines: "obj: name type value size".
awk -v ranks="$RANKS" '
function layer(p,  a) { split(p, a, "/"); return a[2] }
function lib(p) { return layer(p) != "cli" }
BEGIN { n = split(ranks, r, " ")
        for (i = 1; i <= n; i++) { split(r[i], kv, "="); rank[kv[1]] = kv[2] } }
{ o = $1; sub(/:$/, "", o)
  if (!(o in seen)) { seen[o] = 1; obj[++no] = o
      if (!(layer(o) in rank)) print "layers: " o ": folder " layer(o) " is in no layer (add it to RANKS)" }
  if ($3 == "U") use[++nu] = o SUBSEP $2
  else if ($3 ~ /^[A-Z]$/ && !($2 in def)) def[$2] = o }
END {
  for (k = 1; k <= nu; k++) { split(use[k], p, SUBSEP); d = def[p[2]]
      if (d == "" || d == p[1]) continue
      syms[p[1], d] = syms[p[1], d] (syms[p[1], d] == "" ? "" : ", ") p[2]
      edge[p[1], d] = 1 }
  for (i = 1; i <= no; i++) for (j = 1; j <= no; j++) {
      a = obj[i]; b = obj[j]
      if (!((a, b) in edge)) continue
      if (rank[layer(b)] > rank[layer(a)])
          print "layers: " a " (" layer(a) ") uses " syms[a, b] " from " b " (" layer(b) ")"
      if (lib(a) && lib(b)) reach[a, b] = 1 }
  # Transitive closure; a and b are on a cycle when each reaches the other.
  # Library objects only: the binary'"'"'s command table and its commands refer
  # to each other (main.c lists cmd_*.c, which use common.c, which lists).
  for (k = 1; k <= no; k++) for (i = 1; i <= no; i++) if ((obj[i], obj[k]) in reach)
      for (j = 1; j <= no; j++) if ((obj[k], obj[j]) in reach) reach[obj[i], obj[j]] = 1
  for (i = 1; i <= no; i++) {
      a = obj[i]; if (done[a] || !((a, a) in reach)) continue
      # Shortest cycle through a (breadth-first), for the message.
      split("", from); q[1] = a; h = 1; t = 1; back = ""
      while (h <= t && back == "") { x = q[h++]
          for (j = 1; j <= no; j++) { y = obj[j]
              if (!((x, y) in edge) || !lib(y)) continue
              if (y == a) { back = x; break }
              if (!(y in from)) { from[y] = x; q[++t] = y } } }
      msg = ""; y = a; x = back
      while (1) { msg = " uses " syms[x, y] " from " y (msg == "" ? "" : ", which") msg
                  if (x == a) break; y = x; x = from[x] }
      extra = ""
      for (j = 1; j <= no; j++) if ((a, obj[j]) in reach && (obj[j], a) in reach) {
          done[obj[j]] = 1; if (index(msg, " from " obj[j]) == 0) extra = extra " " obj[j] }
      print "layers: cycle: " a msg (extra == "" ? "" : "; also on a cycle with them:" extra) }
}' nm.out >violations

# Each public header: the layers of the objects defining what it declares
# (identifiers outside comments, braces and preprocessor lines).
(cd "$top_srcdir" && find src include -name '*.[ch]' | LC_ALL=C sort) >srcs
(cd "$top_srcdir" && awk -v ranks="$RANKS" -v table="$HEADER_LAYERS" \
    -v nm="$T/nm.out" -v out="$T/hlayers" '
function layer(p,  a) { split(p, a, "/"); return a[2] }
function flush(  s, i, j, n, w, ls, L, names, msg, top, pp) {
  if (hdr == "") return
  while ((i = index(s = text, "/*")) > 0) {
      j = index(substr(s, i + 2), "*/")
      text = substr(s, 1, i - 1) " " (j ? substr(s, i + j + 3) : "") }
  n = split(text, w, "\n"); text = ""
  for (i = 1; i <= n; i++) {
      if (pp || w[i] ~ /^[ \t]*#/) { pp = w[i] ~ /\\$/; continue }
      sub(/\/\/.*/, "", w[i]); text = text " " w[i] }
  while (gsub(/\{[^{}]*\}/, ";", text)) ;
  n = split(text, w, /[^A-Za-z0-9_]+/); ls = ""
  for (i = 1; i <= n; i++) if ((w[i] in def) && !((hdr, w[i]) in got)) {
      got[hdr, w[i]] = 1; L = layer(def[w[i]])
      if (!(L in names)) ls = ls " " L
      s = (L in names) ? names[L] ", " w[i] : w[i]; names[L] = s }
  if (ls == "" && (hdr in fixed)) ls = " " fixed[hdr]
  n = split(ls, w, " ")
  if (n == 0) print "layers: " hdr " declares nothing nm sees; give its layer in HEADER_LAYERS"
  msg = ""; top = w[1]
  for (i = 1; i <= n; i++) {
      msg = msg (i > 1 ? "; " : "") w[i] " (" names[w[i]] ")"
      if (rank[w[i]] > rank[top]) top = w[i] }
  if (n > 1) print "layers: " hdr " mixes layers: " msg
  if (n > 0) print hdr, top > out
  text = "" }
BEGIN { n = split(ranks, r, " ")
        for (i = 1; i <= n; i++) { split(r[i], kv, "="); rank[kv[1]] = kv[2] }
        n = split(table, r, " ")
        for (i = 1; i <= n; i++) { split(r[i], kv, "="); fixed["include/kmill/" kv[1]] = kv[2] }
        while ((getline l < nm) > 0) { split(l, f, " "); o = f[1]; sub(/:$/, "", o)
            if (f[3] ~ /^[A-TV-Z]$/ && !(f[2] in def)) def[f[2]] = o } }
FNR == 1 { flush(); hdr = FILENAME }
{ text = text $0 "\n" }
END { flush(); close(out) }
' $(grep '^include/kmill/' "$T/srcs")) >>violations

# Includes: a file may include headers of its own layer or below. "x.h" is
# looked up beside the including file, then in include/ and src/.
(cd "$top_srcdir" && awk -v ranks="$RANKS" -v hls="$T/hlayers" '
function layer(p,  a) { if (p in hl) return hl[p]; split(p, a, "/"); return a[2] }
function exists(p,  ok) { ok = (getline junk < p) >= 0; close(p); return ok }
BEGIN { n = split(ranks, r, " ")
        for (i = 1; i <= n; i++) { split(r[i], kv, "="); rank[kv[1]] = kv[2] }
        while ((getline l < hls) > 0) { split(l, f, " "); hl[f[1]] = f[2] } }
/^[ \t]*#[ \t]*include[ \t]*["<]/ {
  name = $0; sub(/^[^"<]*["<]/, "", name); sub(/[">].*/, "", name)
  dir = FILENAME; sub(/[^\/]*$/, "", dir); p = ""
  if (substr($0, index($0, "include") + 7) ~ /^[ \t]*"/ && exists(dir name)) p = dir name
  else if (exists("include/" name)) p = "include/" name
  else if (exists("src/" name)) p = "src/" name
  if (p == "" || !(layer(p) in rank)) next
  a = layer(FILENAME); b = layer(p); if (!(a in rank)) next
  if (rank[b] > rank[a]) print "layers: " FILENAME " (" a ") includes " name " (" b ")" }
' $(cat "$T/srcs")) >>violations

while IFS= read -r v; do fail "$v"; done <violations
[ -s violations ] || pass
finish
