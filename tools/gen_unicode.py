#!/usr/bin/env python3
"""gen_unicode.py: writes src/unicode.c, the Unicode classes the tokenizers' pre-tokenizers use (\\p{L} letters:
categories Lu Ll Lt Lm Lo; \\p{N} numbers: Nd Nl No), as sorted ranges of code points, from Python's unicodedata
(its Unicode version is named in the file). Whitespace (\\s) is Unicode's White_Space property, a short fixed list.

Run: python3 tools/gen_unicode.py   (rewrites src/unicode.c; make then regenerates tinygrad.h)
"""
import os
import sys
import unicodedata

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def ranges(pred):
  out, start = [], None
  for cp in range(0x110000 + 1):
    inside = cp <= 0x10FFFF and pred(cp)
    if inside and start is None: start = cp
    if not inside and start is not None:
      out.append((start, cp - 1))
      start = None
  return out


def table(name, rs):
  lines = [f"static const uint32_t {name}[][2] = {{"]
  row = "   "
  for a, b in rs:
    item = f" {{0x{a:x}, 0x{b:x}}},"
    if len(row) + len(item) > 118:
      lines.append(row)
      row = "   "
    row += item
  lines.append(row)
  lines.append("};")
  return "\n".join(lines)


def main():
  letters = ranges(lambda c: unicodedata.category(chr(c)) in ("Lu", "Ll", "Lt", "Lm", "Lo"))
  numbers = ranges(lambda c: unicodedata.category(chr(c)) in ("Nd", "Nl", "No"))
  src = f"""/* unicode.c: the Unicode classes of code points that the tokenizers' pre-tokenizers ask about (layer 1). GENERATED
 * by tools/gen_unicode.py from Python {sys.version.split()[0]}'s unicodedata (Unicode {unicodedata.unidata_version}): edit the script, not this file.
 *
 * Contract: tg__uni_class(cp) is a mask of TG__UNI_LETTER (\\p{{L}}: Lu Ll Lt Lm Lo), TG__UNI_NUMBER (\\p{{N}}: Nd Nl No)
 * and TG__UNI_SPACE (\\s: the White_Space property); 0 for anything else (punctuation, symbols, marks, unassigned,
 * and code points past U+10FFFF). Ranges are sorted: a lookup is a binary search. */
#include "internal.h"

{table("tg__uni_letters", letters)}

{table("tg__uni_numbers", numbers)}

static int tg__uni_in(const uint32_t (*r)[2], int n, uint32_t cp) {{
  int lo = 0, hi = n - 1;
  while (lo <= hi) {{
    int mid = (lo + hi) / 2;
    if (cp < r[mid][0]) hi = mid - 1;
    else if (cp > r[mid][1]) lo = mid + 1;
    else return 1;
  }}
  return 0;
}}

TG__PRIVATE int tg__uni_class(uint32_t cp) {{
  if (cp < 0x80) {{ /* ASCII without a search */
    if (cp == ' ' || (cp >= 0x09 && cp <= 0x0d)) return TG__UNI_SPACE;
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return TG__UNI_LETTER;
    return cp >= '0' && cp <= '9' ? TG__UNI_NUMBER : 0;
  }}
  if (cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x2028 || cp == 0x2029 ||
      cp == 0x202f || cp == 0x205f || cp == 0x3000)
    return TG__UNI_SPACE;
  if (tg__uni_in(tg__uni_letters, (int)(sizeof tg__uni_letters / sizeof tg__uni_letters[0]), cp)) return TG__UNI_LETTER;
  int nn = (int)(sizeof tg__uni_numbers / sizeof tg__uni_numbers[0]);
  return tg__uni_in(tg__uni_numbers, nn, cp) ? TG__UNI_NUMBER : 0;
}}
"""
  with open(os.path.join(ROOT, "src", "unicode.c"), "w") as f:
    f.write(src)


if __name__ == "__main__":
  main()
