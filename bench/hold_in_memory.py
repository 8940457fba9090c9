#!/usr/bin/env python3
"""Holds files in the page cache while a benchmark runs.

Some machines (this project's CI and dev VMs among them) run DAMON with a `pageout` scheme:
file pages nobody touched for a few seconds are written out of memory, so a 9 GB input read
a minute after it was generated comes from a disk that reads ~60 MB/s, and the benchmark
measures the disk, not the program. This script maps every file given (or every file under
a directory given) and locks the mapping with mlock(2), so the pages stay resident until it
is stopped. It prints "held N MiB" once everything is locked, then sleeps until killed.

Usage: bench/hold_in_memory.py PATH... &   (then kill it when the measurement is over)
Needs permission to lock that much memory (root, or a large RLIMIT_MEMLOCK).
"""

import ctypes
import os
import signal
import sys

libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mlock.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
PROT_READ, MAP_SHARED, MAP_FAILED = 1, 1, ctypes.c_void_p(-1).value


def files_under(paths):
    for path in paths:
        if os.path.isdir(path):
            for root, _, names in os.walk(path):
                for name in sorted(names):
                    yield os.path.join(root, name)
        elif os.path.isfile(path):
            yield path
        else:
            sys.exit(f"hold_in_memory: {path}: no such file or directory")


def hold(path):
    """Maps `path` read-only and locks the mapping; the pages stay until the process ends."""
    size = os.path.getsize(path)
    if size == 0:
        return 0
    fd = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, size, PROT_READ, MAP_SHARED, fd, 0)
        if address == MAP_FAILED:
            raise OSError(ctypes.get_errno(), f"mmap {path}")
        if libc.mlock(address, size) != 0:
            raise OSError(ctypes.get_errno(), f"mlock {path} ({size >> 20} MiB)")
    finally:
        os.close(fd)
    return size


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    total = sum(hold(path) for path in files_under(sys.argv[1:]))
    print(f"held {total >> 20} MiB", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


if __name__ == "__main__":
    main()
