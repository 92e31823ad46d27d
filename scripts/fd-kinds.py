#!/usr/bin/env python3
"""Counts a process's open descriptors by kind, as JSON fields for scripts/bench.sh.

usage: fd-kinds.py PID   →   "fds":N,"unix_fds":U,"tcp_fds":T,"other_fds":O
Unix sockets are the listener and client connections; TCP sockets are backend connections.
"""
import os
import sys

pid = sys.argv[1]


def inodes(tables, column):
    """Socket inodes listed in /proc/PID/net/TABLE, in the given column of each row."""
    found = set()
    for table in tables:
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                next(f)  # the header
                found.update(line.split()[column] for line in f)
        except OSError:
            pass
    return found


unix, tcp = inodes(["unix"], 6), inodes(["tcp", "tcp6"], 9)
counts = {"fds": 0, "unix_fds": 0, "tcp_fds": 0, "other_fds": 0}
for fd in os.listdir(f"/proc/{pid}/fd"):
    try:
        target = os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        continue
    counts["fds"] += 1
    inode = target[len("socket:["):-1] if target.startswith("socket:[") else None
    kind = "unix_fds" if inode in unix else "tcp_fds" if inode in tcp else "other_fds"
    counts[kind] += 1
print(",".join(f'"{k}":{v}' for k, v in counts.items()))
