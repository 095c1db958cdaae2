#!/usr/bin/env python3
"""private_names.py: every name the implementation of tinygrad.h defines is prefixed (python3, standard library only).

Contract:
  tools/private_names.py [--header FILE] [--object FILE.o]
      lists each name that the implementation section of the header (default tinygrad.h: from `#ifdef
      TINYGRAD_IMPLEMENTATION` after the include guard to the end) defines at file scope and that does not start with
      tg_, tg__, TG_ or TG__, with what it is and where; exits 1 if there is any (tools/check.sh runs it).
  Allowed besides: _GNU_SOURCE (the feature macro the implementation needs) and the option macros TINYGRAD_*.

These names land in the user's translation unit, so an unprefixed one can collide with the user's own. Two sources:
  - the text: #define'd macros (anywhere: a macro has no scope), and at file scope typedef names, struct/union/enum tags
    and enum constants. Comments, string and character literals and the bodies of functions are blanked first, so a
    name inside them is never taken for a definition; the scanner reads declarations as the library writes them.
  - with --object, an object compiled from the one-file build with static functions and constants kept
    (-fkeep-static-functions -fkeep-static-consts): `nm --defined-only` lists every function and variable, static
    ones included (t/d/b/r). Statics of a function body (`name.N`) are not file scope and are skipped; the suffixes
    of compiler clones (`.part.N`, `.constprop.N`, `.isra.N`, `.cold`) are removed.
"""
import argparse
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIXES = ("tg_", "TG_")  # tg__ and TG__ start with these too
ALLOWED = {"_GNU_SOURCE"}
IDENT = re.compile(r"[A-Za-z_]\w*")


def allowed(name):
    return name.startswith(PREFIXES) or name in ALLOWED or name.startswith("TINYGRAD_")


def implementation(text):
    """(the implementation section, the line number of its first line)"""
    guard = text.find("#endif /* TINYGRAD_H */")
    start = text.find("#ifdef TINYGRAD_IMPLEMENTATION", guard if guard >= 0 else 0)
    if start < 0:
        sys.exit("private_names.py: no implementation section (#ifdef TINYGRAD_IMPLEMENTATION) found")
    return text[start:], text.count("\n", 0, start) + 1


def blank(s):
    """s with every character but newlines replaced by spaces (keeps offsets and line numbers)"""
    return re.sub(r"[^\n]", " ", s)


def strip_comments_and_literals(src):
    """comments, string and character literals blanked, in one left-to-right pass (so that '//' in a string or '"' in
    a comment is read correctly); continuation lines of the preprocessor are kept as they are"""
    token = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
    return token.sub(lambda m: blank(m.group(0)) if m.group(0)[0] == "/" else m.group(0)[0] + blank(m.group(0)[1:-1])
                     + m.group(0)[-1], src)


def macros_and_code(src):
    """([(name, offset)] of #define, src with every preprocessor line (and its continuations) blanked)"""
    defines, out, pos = [], [], 0
    for m in re.finditer(r"^[ \t]*#(?:[^\n\\]|\\.)*(?:\\\n(?:[^\n\\]|\\.)*)*", src, re.M):
        d = re.match(r"[ \t]*#[ \t]*define[ \t]+([A-Za-z_]\w*)", m.group(0))
        if d:
            defines.append((d.group(1), m.start()))
        out.append(src[pos:m.start()])
        out.append(blank(m.group(0)))
        pos = m.end()
    out.append(src[pos:])
    return defines, "".join(out)


def matching(code, i):
    """the offset of the brace closing the one at i"""
    depth = 0
    for j in range(i, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j
    return len(code) - 1


def file_scope(code):
    """code with the bodies of functions blanked: a '{' at file scope that follows ')' (or an attribute's '))') opens a
    function body; other braces (struct, union, enum, initialiser) stay, since their names are file scope in C"""
    out, i, depth, body_end = [], 0, 0, -1  # code[:i] is in out; braces up to body_end are inside a blanked body
    for m in re.finditer(r"[{}]", code):
        if m.start() <= body_end:
            continue
        if m.group(0) == "}":
            depth -= 1
            continue
        if depth == 0 and code[:m.start()].rstrip().endswith(")"):
            body_end = matching(code, m.start())
            out.append(code[i:m.start() + 1])
            out.append(blank(code[m.start() + 1:body_end]))
            i = body_end
            continue
        depth += 1
    out.append(code[i:])
    return "".join(out)


def statements(code):
    """(text, offset) of each statement at brace depth 0 that starts with typedef"""
    for m in re.finditer(r"\btypedef\b", code):
        j, depth = m.start(), 0
        while j < len(code):
            c = code[j]
            if c in "{(":
                depth += 1
            elif c in "})":
                depth -= 1
            elif c == ";" and depth == 0:
                break
            j += 1
        yield code[m.start():j], m.start()


def typedef_names(code):
    """[(name, offset)] of the names that typedef statements declare"""
    names = []
    for text, off in statements(code):
        tail = text
        if "}" in tail:  # typedef struct X { ... } name, *pname;
            tail = tail[tail.rindex("}") + 1:]
        fp = re.findall(r"\(\s*\*\s*([A-Za-z_]\w*)\s*\)", tail)
        if fp:  # typedef ret (*name)(args);
            names += [(n, off) for n in fp]
            continue
        tail = re.sub(r"\[[^\]]*\]", "", tail)
        for part in tail.split(","):
            ids = IDENT.findall(part)
            if ids:
                names.append((ids[-1], off))
    return names


def tags_and_enum_constants(code):
    """[(what, name, offset)] of struct/union/enum tags defined with a body, and of enum constants"""
    found = []
    for m in re.finditer(r"\b(struct|union|enum)\s+(?:([A-Za-z_]\w*)\s*)?\{", code):
        if m.group(2):
            found.append((m.group(1) + " tag", m.group(2), m.start()))
        if m.group(1) == "enum":
            body = code[m.end():matching(code, m.end() - 1)]
            for item in re.split(r",", re.sub(r"\([^()]*\)", "", body)):
                name = IDENT.match(item.strip())
                if name:
                    found.append(("enum constant", name.group(0), m.end() + body.find(item)))
    return found


def symbols(obj):
    """[(type letter, name)] of the functions and variables an object defines"""
    out = subprocess.run(["nm", "--defined-only", obj], check=True, capture_output=True, text=True).stdout
    syms = []
    for line in out.splitlines():
        f = line.split()
        if len(f) < 3 or f[1] not in "tTdDbBrRvVwW":
            continue
        name = f[2]
        if re.fullmatch(r"[A-Za-z_]\w*\.\d+", name):  # a static inside a function body: not file scope
            continue
        name = re.sub(r"\.(part|constprop|isra|cold|lto_priv)\b.*$", "", name)
        if "." in name or name in ("main",):
            continue
        syms.append((f[1], name))
    return syms


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--header", default=os.path.join(ROOT, "tinygrad.h"))
    ap.add_argument("--object", help="an object compiled from the one-file build (nm lists its symbols)")
    args = ap.parse_args()
    section, first_line = implementation(open(args.header).read())

    def line_of(off):
        return first_line + section.count("\n", 0, off)

    defines, code = macros_and_code(strip_comments_and_literals(section))
    code = file_scope(code)
    bad = set()
    for name, off in defines:
        if not allowed(name):
            bad.add(("macro", name, line_of(off)))
    for name, off in typedef_names(code):
        if not allowed(name):
            bad.add(("typedef", name, line_of(off)))
    for what, name, off in tags_and_enum_constants(code):
        if not allowed(name):
            bad.add((what, name, line_of(off)))
    nsyms = 0
    if args.object:
        syms = symbols(args.object)
        nsyms = len(syms)
        for kind, name in syms:
            if not allowed(name):
                bad.add(("function" if kind in "tTwW" else "variable", name, 0))
    for what, name, line in sorted(bad, key=lambda b: (b[2], b[1])):
        where = "%s:%d" % (os.path.basename(args.header), line) if line else "(nm %s)" % os.path.basename(args.object)
        print("  %s: %s %s is not prefixed tg_/tg__/TG_/TG__" % (where, what, name))
    if bad:
        print("private_names.py: %d unprefixed names in the implementation (they land in the user's file)" % len(bad))
        return 1
    print("private names: %d macros, %d typedefs, %d tags and enum constants%s, all prefixed" % (
        len(defines), len(typedef_names(code)), len(tags_and_enum_constants(code)),
        ", %d symbols of the object" % nsyms if args.object else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
