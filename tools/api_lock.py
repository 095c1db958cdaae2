#!/usr/bin/env python3
"""api_lock.py: every public function of src/ takes the library's lock (python3, standard library only).

Contract:
  tools/api_lock.py          lists the public functions (tg_*, defined in src/*.c without static or TG__PRIVATE) whose
                             body does not begin with TG__LOCKED(); exits 1 if there is any (tools/check.sh runs it)
  tools/api_lock.py --fix    inserts TG__LOCKED(); as their first statement (a one-line body that would pass 120
                             columns is split over lines)

Pure functions that touch no state of the library (PURE) need no lock: the dtype queries read constant tables and
tg_error reads, tg_clear_error and tg_device_error write a thread-local string.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PURE = {"tg_error", "tg_clear_error", "tg_device_error", "tg_dtype_name", "tg_dtype_size", "tg_dtype_is_float",
        "tg_dtype_is_int", "tg_dtype_is_unsigned", "tg_promote"}
START = re.compile(r"^(?!static\b|TG__PRIVATE\b|typedef\b|extern\b)[A-Za-z_][A-Za-z_0-9 \*]*?\b(tg_[a-z0-9_]+)\(")
LOCK = "TG__LOCKED();"


def definitions(lines):
    """(name, index of the line holding the body's '{') for each public function defined in lines"""
    i = 0
    while i < len(lines):
        m = START.match(lines[i])
        if not m:
            i += 1
            continue
        depth, j = 0, i
        while j < len(lines):
            end = None
            for k, ch in enumerate(lines[j]):
                if ch == "(":
                    depth += 1
                elif ch == ")":
                    depth -= 1
                elif depth == 0 and ch in "{;":
                    end = ch
                    break
            if end:
                break
            j += 1
        if end == "{":
            yield m.group(1), j
        i = j + 1


def body_start(lines, j):
    """the text after the '{' that opens the body on line j, and the next lines"""
    line = lines[j]
    depth = 0
    for k, ch in enumerate(line):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "{" and depth <= 0:
            return line[k + 1:].strip() or (lines[j + 1].strip() if j + 1 < len(lines) else "")
    return ""


def fix_line(line):
    """the lines that replace a definition line ending in '{' or holding a one-line body"""
    line = line.rstrip("\n")
    if line.rstrip().endswith("{"):
        return [line + "\n", "  " + LOCK + "\n"]
    m = re.match(r"^(.*?\)\s*\{)\s*(.*?)\s*\}((?:[ \t]*(?:/\*.*\*/|//.*))?)[ \t]*$", line)
    if not m:
        raise SystemExit("api_lock.py: cannot fix the line: " + line)
    head, body, comment = m.group(1), m.group(2), m.group(3)
    one = f"{head} {LOCK} {body} }}{comment}"
    if len(one) <= 120:
        return [one + "\n"]
    out = [head + (comment if comment else "") + "\n", "  " + LOCK + "\n"]
    out += ["  " + body + "\n", "}\n"]
    return out


def main():
    fix = "--fix" in sys.argv[1:]
    missing = []
    src = os.path.join(ROOT, "src")
    for fname in sorted(os.listdir(src)):
        if not fname.endswith(".c"):
            continue
        path = os.path.join(src, fname)
        with open(path) as f:
            lines = f.readlines()
        todo = [(name, j) for name, j in definitions(lines)
                if name not in PURE and not body_start(lines, j).startswith(LOCK)]
        for name, j in todo:
            missing.append(f"src/{fname}:{j + 1}: {name}")
        if fix and todo:
            for name, j in sorted(todo, key=lambda t: -t[1]):
                lines[j:j + 1] = fix_line(lines[j])
            with open(path, "w") as f:
                f.writelines(lines)
    if missing and not fix:
        print("public functions that do not take the library's lock (begin them with TG__LOCKED();):")
        print("\n".join(missing))
        return 1
    if fix:
        print(f"api_lock.py: inserted {len(missing)} locks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
