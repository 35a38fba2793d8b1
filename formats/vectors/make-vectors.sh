#!/bin/sh
# make-vectors.sh KMILL - regenerate the .kmx test vectors in this folder.
# valid.kmx is tests/data/mixed.csv converted; the others damage a copy of it
# in one specific way each (see README.md here). Needs python3 for the CRC
# of the header that declares an unknown required feature.
set -eu
K=$1
D=$(dirname "$0")
"$K" convert -q "$D/../../tests/data/mixed.csv" -o "$D/valid.kmx"
size=$(stat -c %s "$D/valid.kmx")
head -c $((size - 100)) "$D/valid.kmx" >"$D/truncated.kmx"
cp "$D/valid.kmx" "$D/flipped-chunk.kmx"
# first chunk payload starts at 4096 + 48: flip one byte inside it
printf '\377' | dd of="$D/flipped-chunk.kmx" bs=1 seek=$((4096 + 48 + 10)) conv=notrunc 2>/dev/null
cp "$D/valid.kmx" "$D/bad-magic.kmx"
printf 'PK' | dd of="$D/bad-magic.kmx" bs=1 seek=1 conv=notrunc 2>/dev/null
cp "$D/valid.kmx" "$D/major2.kmx"
printf '\002' | dd of="$D/major2.kmx" bs=1 seek=8 conv=notrunc 2>/dev/null
python3 - "$D/valid.kmx" "$D/required-feature.kmx" <<'PY'
import sys
def crc32c(b, crc=0):
    crc ^= 0xffffffff
    for x in b:
        crc ^= x
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xffffffff
d = bytearray(open(sys.argv[1], "rb").read())
d[16:20] = (1 << 5).to_bytes(4, "little")  # an unknown required feature bit
d[60:64] = crc32c(bytes(d[:60])).to_bytes(4, "little")
open(sys.argv[2], "wb").write(d)
PY
