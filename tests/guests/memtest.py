#!/usr/bin/env python3
"""Guest 3: memtest86+ (ia32, Linux boot protocol) on ttyS0: runs its first tests with 0 errors."""
import os
import re

from console import Console, GuestFailure, cache_dir, emulator, main

# Tests #0..#3 done means address tests and moving inversions have covered all of RAM.
UNTIL_TEST = int(os.environ.get('PCVM_MEMTEST_UNTIL', '4'))


def test(log_path, consoles):
    kernel = os.path.join(cache_dir(), 'guests', 'memtest.bin')
    argv = [emulator(), '-m', '64', '-kernel', kernel, '-append', 'console=ttyS0,115200',
            '-nographic']
    c = Console(argv, log_path)
    consoles.append(c)
    c.expect(r'Memtest86\+', 120, 'the memtest86+ banner')
    c.expect(r'#%d\s+\[' % UNTIL_TEST, 900, 'memtest86+ reaching test #%d' % UNTIL_TEST)
    c.expect(r'Errors:\s*\d+', 60, 'the error counter')
    counts = [int(n) for n in re.findall(r'Errors:\s*(\d+)', c.text())]
    if not counts:
        raise GuestFailure('no error counter on the screen')
    if max(counts) != 0:
        raise GuestFailure('memtest86+ reports %d errors' % max(counts))


if __name__ == '__main__':
    main(test)
