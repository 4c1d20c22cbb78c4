#!/usr/bin/env python3
"""Runs the SQL examples of one Markdown document and compares their output.

    doccheck.py [--update] DOC.md DBNAME

Every ```sql block of DOC.md runs, in order, in its own psql session on
database DBNAME (PGHOST, PGPORT from the environment), and its output is
compared with the ```text block that immediately follows it (blank lines in
between are allowed); a block that prints nothing needs no text block. With --update the text blocks are rewritten from the
run (and added where missing); without it, a difference prints a diff and the
exit status is 1.

Conventions of a ```sql block:
  - a first line "-- as: LOGIN" connects as login role LOGIN (default:
    postgres, a superuser);
  - it runs with psql -X -q (default aligned format, no command tags),
    VERBOSITY verbose and SHOW_CONTEXT never, so an error shows its SQLSTATE:
    "ERROR:  42501: permission denied ...";
  - output is psql's stdout and stderr together, normalised: the
    "psql:<stdin>:N: " prefix of messages and "LOCATION:" lines (source
    positions of the server) are removed, trailing blank lines dropped.
Blocks fenced otherwise (```sh, ```json, plain ```) are not run.
Standard library only.
"""
import difflib
import os
import re
import subprocess
import sys

FENCE = re.compile(r"^```(\w*)\s*$")
AS_LINE = re.compile(r"^--\s*as:\s*(\S+)\s*$")


def parse(lines):
    """Yields (kind, start, end) of fenced blocks: lines[start] is the opening
    fence, lines[end] the closing one."""
    blocks = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m:
            j = i + 1
            while j < len(lines) and lines[j].rstrip("\n") != "```":
                j += 1
            if j >= len(lines):
                sys.exit(f"unterminated ``` block opened at line {i + 1}")
            blocks.append((m.group(1), i, j))
            i = j + 1
        else:
            i += 1
    return blocks


def run_block(sql, dbname):
    login = "postgres"
    first = sql.split("\n", 1)[0]
    m = AS_LINE.match(first)
    if m:
        login = m.group(1)
    script = "\\set VERBOSITY verbose\n\\set SHOW_CONTEXT never\n" + sql
    proc = subprocess.run(
        ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=0", "-U", login, "-d", dbname],
        input=script, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PGOPTIONS="-c client_min_messages=notice", PAGER="", PSQL_PAGER=""),
    )
    out = []
    for line in proc.stdout.split("\n"):
        line = re.sub(r"^psql:<stdin>:\d+: ", "", line)
        if line.startswith("LOCATION:  "):
            continue
        out.append(line.rstrip())
    while out and out[-1] == "":
        out.pop()
    return [l + "\n" for l in out]


def main():
    args = sys.argv[1:]
    update = False
    if args and args[0] == "--update":
        update = True
        args = args[1:]
    if len(args) != 2:
        sys.exit(__doc__)
    path, dbname = args
    with open(path, encoding="utf-8") as f:
        lines = f.readlines()
    blocks = parse(lines)

    # Pair each sql block with the text block right after it (only blank
    # lines between), if any.
    pairs = []
    for n, (kind, start, end) in enumerate(blocks):
        if kind != "sql":
            continue
        text = None
        if n + 1 < len(blocks) and blocks[n + 1][0] == "text":
            _, tstart, tend = blocks[n + 1]
            if all(l.strip() == "" for l in lines[end + 1:tstart]):
                text = (tstart, tend)
        pairs.append(((start, end), text))

    failures = 0
    replacements = []  # (start, end, new lines) on the original line numbers
    for (start, end), text in pairs:
        sql = "".join(lines[start + 1:end])
        got = run_block(sql, dbname)
        if text is None:
            # No text block: the block must print nothing.
            expected = None if got else []
        else:
            expected = lines[text[0] + 1:text[1]]
        if got != expected:
            if update:
                if text is None:
                    replacements.append((end + 1, end + 1, ["\n", "```text\n"] + got + ["```\n"]))
                else:
                    replacements.append((text[0] + 1, text[1], got))
            else:
                failures += 1
                where = f"{path}:{start + 1}"
                if expected is None:
                    print(f"--- {where}: the sql block has no ```text block after it; its output:")
                    sys.stdout.writelines(got)
                else:
                    print(f"--- {where}: output differs (- documented, + actual)")
                    sys.stdout.writelines(difflib.unified_diff(expected, got, "documented", "actual", n=2))
    if update and replacements:
        for s, e, new in sorted(replacements, reverse=True):
            lines[s:e] = new
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(lines)
    status = "updated" if update else ("FAILED" if failures else "ok")
    changed = len(replacements) if update else failures
    print(f"{path}: {len(pairs)} sql blocks, {changed} {'rewritten' if update else 'differ'}: {status}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
