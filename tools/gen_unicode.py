#!/usr/bin/env python3
"""gen_unicode.py: writes src/unicode.c, the Unicode classes the tokenizers' pre-tokenizers use (\\p{L} letters:
categories Lu Ll Lt Lm Lo; \\p{N} numbers: Nd Nl No), as sorted ranges of code points, from Python's unicodedata
(its Unicode version is named in the file). Whitespace (\\s) is Unicode's White_Space property, a short fixed list.
Also what the WordPiece normalisers ask: each code point's general category (runs of equal categories), the simple
lowercase mapping (UnicodeData's, as ranges of a stride and an offset), and each decomposable code point's canonical
decomposition (NFD) as llama.cpp keeps it (its first code point) and as Hugging Face's strip_accents leaves it (the
decomposition less its nonspacing marks, Mn); Hangul syllables are decomposed by arithmetic, not stored.

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


CATS = ["Cn", "Cc", "Cf", "Co", "Cs", "Ll", "Lm", "Lo", "Lt", "Lu", "Mc", "Me", "Mn", "Nd", "Nl", "No", "Pc", "Pd", "Pe",
        "Pf", "Pi", "Po", "Ps", "Sc", "Sk", "Sm", "So", "Zl", "Zp", "Zs"]


def words(name, ctype, vals, per=10):
  lines = [f"static const {ctype} {name}[] = {{"]
  for i in range(0, len(vals), per):
    lines.append("    " + " ".join(f"{v}," for v in vals[i:i + per]))
  lines.append("};")
  return "\n".join(lines)


def category_runs():
  """each run of equal categories as start << 5 | category (its index in CATS)"""
  runs, prev = [], None
  for cp in range(0x110000):
    c = CATS.index(unicodedata.category(chr(cp)))
    if c != prev: runs.append(f"0x{cp << 5 | c:x}")
    prev = c
  return runs


def lower_ranges():
  """the simple lowercase mapping (U+0130's is U+0069: its full one has two code points) as (first, count, stride,
  offset) runs"""
  out = []
  for cp in range(0x110000):
    low = "i" if cp == 0x130 else chr(cp).lower()
    if len(low) != 1 or low == chr(cp): continue
    d = ord(low) - cp
    if out:
      s, n, st, dd = out[-1]
      if dd == d and ((n == 1 and cp - s in (1, 2)) or (n > 1 and cp == s + n * st)):
        out[-1] = [s, n + 1, cp - s if n == 1 else st, dd]
        continue
    out.append([cp, 1, 1, d])
  return [f"{{0x{s:x}, {n}, {st}, {d}}}," for s, n, st, d in out]


def decompositions():
  """(code point, NFD's first code point, the NFD less Mn as one code point or an index into the exceptions | 1 << 31)
  and the exceptions (a count and three code points) for the NFDs less Mn that are not one code point"""
  rows, exc = [], []
  for cp in range(0x110000):
    if 0xAC00 <= cp <= 0xD7A3: continue
    d = unicodedata.normalize("NFD", chr(cp))
    if d == chr(cp): continue
    kept = [ord(x) for x in d if unicodedata.category(x) != "Mn"]
    if len(kept) == 1: strip = f"0x{kept[0]:x}"
    else:
      strip = f"0x{len(exc) | 1 << 31:x}u"
      exc.append("{%d, " % len(kept) + ", ".join(f"0x{k:x}" for k in (kept + [0, 0, 0])[:3]) + "},")
    rows.append(f"{{0x{cp:x}, 0x{ord(d[0]):x}, {strip}}},")
  return rows, exc


def rows(name, ctype, items):
  lines = [f"static const {ctype} {name} = {{"]
  row = "   "
  for item in items:
    if len(row) + len(item) + 1 > 118:
      lines.append(row)
      row = "   "
    row += " " + item
  lines.append(row)
  lines.append("};")
  return "\n".join(lines)


def main():
  letters = ranges(lambda c: unicodedata.category(chr(c)) in ("Lu", "Ll", "Lt", "Lm", "Lo"))
  numbers = ranges(lambda c: unicodedata.category(chr(c)) in ("Nd", "Nl", "No"))
  dec, exc = decompositions()
  cat_enum = " ".join(CATS)
  src = f"""/* unicode.c: the Unicode classes of code points that the tokenizers' pre-tokenizers ask about (layer 1). GENERATED
 * by tools/gen_unicode.py from Python {sys.version.split()[0]}'s unicodedata (Unicode {unicodedata.unidata_version}): edit the script, not this file.
 *
 * Contract: tg__uni_class(cp) is a mask of TG__UNI_LETTER (\\p{{L}}: Lu Ll Lt Lm Lo), TG__UNI_NUMBER (\\p{{N}}: Nd Nl No)
 * and TG__UNI_SPACE (\\s: the White_Space property); 0 for anything else (punctuation, symbols, marks, unassigned,
 * and code points past U+10FFFF). Ranges are sorted: a lookup is a binary search.
 * tg__uni_category(cp): the general category, TG__UC_ and its two letters ({cat_enum[:44]}
 * {cat_enum[44:]}; TG__UC_CN past U+10FFFF);
 * tg__uni_lower(cp): the simple lowercase mapping (cp itself when none); tg__uni_nfd_first(cp): the first code point of
 * cp's canonical decomposition (llama.cpp's NFD); tg__uni_strip_accents(cp, out): cp's canonical decomposition less
 * its nonspacing marks (Hugging Face's NFD then strip_accents; the marks' reordering needs no table: they go), 0 to 3
 * code points into out, their count. */
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

/* general categories: runs of start << 5 | category */
{words("tg__uni_cat_runs", "uint32_t", category_runs())}

TG__PRIVATE int tg__uni_category(uint32_t cp) {{
  int lo = 0, hi = (int)(sizeof tg__uni_cat_runs / sizeof tg__uni_cat_runs[0]) - 1;
  if (cp > 0x10ffff) return TG__UC_CN;
  while (lo < hi) {{ /* the last run starting at or before cp */
    int mid = (lo + hi + 1) / 2;
    if ((tg__uni_cat_runs[mid] >> 5) <= cp) lo = mid;
    else hi = mid - 1;
  }}
  return (int)(tg__uni_cat_runs[lo] & 31);
}}

/* lowercase: first, count, stride, offset */
{rows("tg__uni_lowers[][4]", "int32_t", lower_ranges())}

TG__PRIVATE uint32_t tg__uni_lower(uint32_t cp) {{
  int lo = 0, hi = (int)(sizeof tg__uni_lowers / sizeof tg__uni_lowers[0]) - 1;
  if (cp < 0x80) return cp >= 'A' && cp <= 'Z' ? cp + 32 : cp;
  while (lo < hi) {{
    int mid = (lo + hi + 1) / 2;
    if ((uint32_t)tg__uni_lowers[mid][0] <= cp) lo = mid;
    else hi = mid - 1;
  }}
  const int32_t *r = tg__uni_lowers[lo];
  uint32_t k = cp - (uint32_t)r[0];
  if (cp < (uint32_t)r[0] || k % (uint32_t)r[2] || k / (uint32_t)r[2] >= (uint32_t)r[1]) return cp;
  return (uint32_t)((int32_t)cp + r[3]);
}}

/* canonical decompositions: code point, NFD's first code point, NFD less Mn (one code point, or 1 << 31 | an index into
 * the exceptions: a count and the code points) */
{rows("tg__uni_decomp[][3]", "uint32_t", dec)}
{rows("tg__uni_decomp_exc[][4]", "uint32_t", exc)}

static const uint32_t *tg__uni_decomp_find(uint32_t cp) {{
  int lo = 0, hi = (int)(sizeof tg__uni_decomp / sizeof tg__uni_decomp[0]) - 1;
  while (lo <= hi) {{
    int mid = (lo + hi) / 2;
    if (cp < tg__uni_decomp[mid][0]) hi = mid - 1;
    else if (cp > tg__uni_decomp[mid][0]) lo = mid + 1;
    else return tg__uni_decomp[mid];
  }}
  return NULL;
}}

TG__PRIVATE uint32_t tg__uni_nfd_first(uint32_t cp) {{
  if (cp >= 0xac00 && cp <= 0xd7a3) return 0x1100 + (cp - 0xac00) / 588; /* a Hangul syllable's leading consonant */
  const uint32_t *d = cp < 0xc0 ? NULL : tg__uni_decomp_find(cp);
  return d ? d[1] : cp;
}}

TG__PRIVATE int tg__uni_strip_accents(uint32_t cp, uint32_t out[3]) {{
  if (cp >= 0xac00 && cp <= 0xd7a3) {{ /* Hangul: leading consonant, vowel, and a trailing consonant unless none */
    uint32_t s = cp - 0xac00;
    out[0] = 0x1100 + s / 588, out[1] = 0x1161 + (s % 588) / 28, out[2] = 0x11a7 + s % 28;
    return s % 28 ? 3 : 2;
  }}
  const uint32_t *d = cp < 0xc0 ? NULL : tg__uni_decomp_find(cp);
  if (!d) {{
    out[0] = cp;
    return tg__uni_category(cp) == TG__UC_MN ? 0 : 1;
  }}
  if (!(d[2] >> 31)) {{
    out[0] = d[2];
    return 1;
  }}
  const uint32_t *e = tg__uni_decomp_exc[d[2] & 0x7fffffffu];
  for (uint32_t i = 0; i < e[0]; i++) out[i] = e[1 + i];
  return (int)e[0];
}}
"""
  with open(os.path.join(ROOT, "src", "unicode.c"), "w") as f:
    f.write(src)


if __name__ == "__main__":
  main()
