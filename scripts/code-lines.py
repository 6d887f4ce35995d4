#!/usr/bin/env python3
"""Non-test code lines of Rust crates: the non-blank lines of src/**/*.rs that hold code, not
only comments, leaving out tests.rs files and every #[cfg(test)] item (a test module, a test
helper). For comparing a crate's size before and after a change.

Usage: scripts/code-lines.py [CRATE_DIR ...]   (default: the workspace's crates)
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = [".", "policy-host", "xtask", "prepuller-check", "floor-guest", "testkit", "artifact"]


def code_chars(text):
    """For every character, whether it is code (not in a comment); strings count as code and
    their contents are masked so that braces inside them are not counted."""
    n = len(text)
    out = []  # (char, is_code) with string contents replaced by a space
    i = 0
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            while i < n and text[i] != "\n":
                out.append((text[i] if text[i] == "\n" else " ", False))
                i += 1
            continue
        if c == "/" and nxt == "*":
            depth = 0
            while i < n:
                if text.startswith("/*", i):
                    depth += 1
                    out += [(" ", False), (" ", False)]
                    i += 2
                elif text.startswith("*/", i):
                    depth -= 1
                    out += [(" ", False), (" ", False)]
                    i += 2
                    if depth == 0:
                        break
                else:
                    out.append(("\n" if text[i] == "\n" else " ", False))
                    i += 1
            continue
        if c == "r" and (nxt == '"' or nxt == "#") and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            j = i + 1
            while j < n and text[j] == "#":
                j += 1
            if j < n and text[j] == '"':
                hashes = j - i - 1
                end = text.find('"' + "#" * hashes, j + 1)
                end = n if end < 0 else end + 1 + hashes
                for ch in text[i:end]:
                    out.append(("\n" if ch == "\n" else "s", True))
                i = end
                continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            for ch in text[i : j + 1]:
                out.append(("\n" if ch == "\n" else "s", True))
            i = j + 1
            continue
        if c == "'":
            # A char literal ('x', '\n', '\u{..}'), else a lifetime.
            if i + 2 < n and text[i + 1] != "\\" and text[i + 2] == "'":
                out += [("s", True)] * 3
                i += 3
                continue
            if nxt == "\\":
                end = text.find("'", i + 2)
                if end > 0:
                    out += [("s", True)] * (end + 1 - i)
                    i = end + 1
                    continue
        out.append((c, c not in " \t\r\n"))
        i += 1
    return out


def count_file(path):
    chars = code_chars(path.read_text())
    text = "".join(ch for ch, _ in chars)
    # Spans of #[cfg(test)] items: from the attribute to the item's `;` or closing brace.
    skip = [False] * len(chars)
    start = 0
    while True:
        at = text.find("#[cfg(test)]", start)
        if at < 0:
            break
        depth = 0
        i = at + len("#[cfg(test)]")
        while i < len(text):
            ch = text[i]
            if ch == "{":
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0:
                    i += 1
                    break
            elif ch == ";" and depth == 0:
                i += 1
                break
            i += 1
        for k in range(at, i):
            skip[k] = True
        start = i
    lines = 0
    has_code = False
    for (ch, is_code), skipped in zip(chars, skip):
        if ch == "\n":
            lines += has_code
            has_code = False
        elif is_code and not skipped:
            has_code = True
    return lines + has_code


def count_crate(crate):
    src = ROOT / crate / "src"
    if not src.is_dir():
        return None
    return sum(count_file(p) for p in sorted(src.rglob("*.rs")) if p.name != "tests.rs")


def main():
    crates = sys.argv[1:] or DEFAULT
    total = 0
    for crate in crates:
        lines = count_crate(crate)
        if lines is None:
            continue
        total += lines
        print(f"{lines:6}  {crate}")
    print(f"{total:6}  total")


if __name__ == "__main__":
    main()
