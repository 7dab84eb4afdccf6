#!/usr/bin/env python3
"""Guest 4: the Debian installer (netboot i386 linux + initrd.gz) on ttyS0 reaches its first
question (language selection)."""
import os

from console import Console, cache_dir, emulator, main


def test(log_path, consoles):
    g = os.path.join(cache_dir(), 'guests')
    argv = [emulator(), '-m', '512', '-kernel', os.path.join(g, 'di-linux'),
            '-initrd', os.path.join(g, 'di-initrd.gz'), '-append', 'console=ttyS0',
            '-nographic']
    c = Console(argv, log_path)
    consoles.append(c)
    c.expect(r'Linux version 6\.', 120, 'the kernel banner')
    c.expect(r'\[!!\] Select a language', 1200,
             "the installer's first question (language)")


if __name__ == '__main__':
    main(test)
