#!/usr/bin/env bash
# Makes the demo model's training text: the King James Bible (public domain) from Debian's
# bible-kjv package, as plain prose, one verse per line, no verse numbers. Writes $1.
set -euo pipefail
out="${1:?output file}"
command -v bible >/dev/null || { echo "installing bible-kjv"; apt-get install -y -qq bible-kjv >/dev/null; }
bible "gen1:1-rev22:21" | python3 -c '
import re, sys
verses, cur = [], None
for line in sys.stdin:
    line = line.rstrip("\n")
    m = re.match(r"^\s+\d+ (.*)$", line)
    if m:                                  # a new verse: "  12 And God said..."
        if cur: verses.append(cur)
        cur = m.group(1).strip()
    elif re.match(r"^\S.* \d+$", line) or not line.strip():   # "Genesis 1" header or blank
        if cur: verses.append(cur); cur = None
    elif cur is not None:                  # wrapped continuation of the verse
        cur += " " + line.strip()
if cur: verses.append(cur)
sys.stdout.write("\n".join(verses) + "\n")
' > "$out"
echo "corpus: $(wc -l < "$out") verses, $(wc -c < "$out") bytes -> $out"
