#!/usr/bin/env python3
"""Puts the report on stdin into FILE between the bench.sh markers, keeping the rest of FILE.

usage: bench-splice.py FILE < report.md
Without the markers in FILE (or without FILE) the report goes first, marked, and what FILE
held follows.
"""
import sys

BEGIN = "<!-- bench.sh: begin (scripts/bench.sh rewrites this part) -->"
END = "<!-- bench.sh: end -->"

path = sys.argv[1]
report = sys.stdin.read().strip("\n")
try:
    text = open(path).read()
except FileNotFoundError:
    text = ""
block = f"{BEGIN}\n{report}\n{END}"
if BEGIN in text and END in text:
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    text = head + block + tail
else:
    text = block + "\n\n" + text
open(path, "w").write(text.rstrip("\n") + "\n")
