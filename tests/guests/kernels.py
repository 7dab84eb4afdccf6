#!/usr/bin/env python3
"""The nasm test kernels (tests/kernels): Multiboot a.out kludge and ELF.  Each prints the
Multiboot information it got and leaves through isa-debug-exit: status (value << 1) | 1."""
import os
import re

from console import Console, GuestFailure, emulator, main

KDIR = os.path.join('build', 'tests', 'kernels')
KERNELS = [('mb_aout.bin', 'a.out kludge', 0x22), ('mb_elf.elf', 'ELF', 0x21)]


def check_one(log_path, consoles, name, kind, value):
    logdir = os.path.dirname(log_path)
    mod1 = os.path.join(logdir, 'mod1.txt')
    mod2 = os.path.join(logdir, 'mod2,x.txt')      # a comma in a name: written ",," on the command line
    with open(mod1, 'w') as f:
        f.write('module-one-data\nsecond line\n')
    with open(mod2, 'w') as f:
        f.write('module-two\n')
    kernel = os.path.join(KDIR, name)
    argv = [emulator(), '-m', '64', '-kernel', kernel, '-append', 'hello=1 x',
            '-initrd', '%s arg1 arg2,%s y' % (mod1, mod2.replace(',', ',,')),
            '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04', '-nographic']
    c = Console(argv, log_path.replace('.log', '-' + name + '.log'))
    consoles.append(c)
    c.expect(r'pcvm-test-kernel: ' + re.escape(kind), 60, 'the test kernel banner (%s)' % kind)
    c.expect(r'magic ok', 10, 'EAX = 0x2BADB002')
    m = c.expect(r'mem_lower=(\d+) mem_upper=(\d+)\n', 10, 'mem_lower/mem_upper')
    lower, upper = int(m.group(1)), int(m.group(2))
    if not 600 <= lower <= 640:
        raise GuestFailure('mem_lower=%d KiB, expected about 639' % lower)
    if not 60 * 1024 <= upper <= 63 * 1024:
        raise GuestFailure('mem_upper=%d KiB for -m 64, expected 61440..64512' % upper)
    c.expect(r'cmdline=\S*' + re.escape(name) + r' hello=1 x\n', 10, 'the kernel command line')
    c.expect(r'mods_count=2\n', 10, 'two modules')
    c.expect(r'mod 0 start=[0-9a-f]{5}000 end=[0-9a-f]+ cmdline=\S*mod1\.txt arg1 arg2 '
             r'data=module-one-data\n', 10, 'module 0 with its command line and data')
    c.expect(r'mod 1 start=[0-9a-f]{5}000 end=[0-9a-f]+ cmdline=\S*mod2,x\.txt y data=module-two\n',
             10, 'module 1 (comma in its name)')
    c.expect(r'mmap base=0000000000100000 len=[0-9a-f]{16} type=1', 10, 'RAM at 1 MiB in the memory map')
    c.expect(r'test-kernel done', 10, 'the end of the test kernel')
    status = c.wait_exit(30)
    want = (value << 1) | 1
    if status != want:
        raise GuestFailure('%s: exit status %d, expected %d (isa-debug-exit value 0x%x)' %
                           (name, status, want, value))


def test(log_path, consoles):
    for name, kind, value in KERNELS:
        if not os.path.exists(os.path.join(KDIR, name)):
            raise GuestFailure('%s is missing (tests/kernels/build.sh)' % name)
        check_one(log_path, consoles, name, kind, value)


if __name__ == '__main__':
    main(test)
