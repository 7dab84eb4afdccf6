#!/usr/bin/env python3
"""Guest 2: GNU Mach 1.8 (Multiboot ELF) with -kernel: banner, memory map, device probes and
`No bootstrap code loaded`; then again with a Multiboot module, which must pass that point."""
import os
import re

from console import Console, GuestFailure, cache_dir, emulator, main


def boot(log_path, consoles, extra):
    kernel = os.path.join(cache_dir(), 'guests', 'gnumach')
    argv = [emulator(), '-m', '256', '-kernel', kernel, '-append', 'console=com0',
            '-nographic'] + extra
    c = Console(argv, log_path)
    consoles.append(c)
    c.expect(r'GNU Mach 1\.8', 120, 'the GNU Mach banner')
    c.expect(r'biosmem: [0-9a-f]+:[0-9a-f]+, available', 60, 'the memory map (biosmem)')
    return c


def test(log_path, consoles):
    c = boot(log_path, consoles, [])
    c.expect(r'(?s)(Probing PCI hardware|ide\d|Floppy drive|lpr0|com\d).*No bootstrap code loaded',
             300, 'device probes and then "No bootstrap code loaded"')
    c.close()

    # A module (any ELF file will do: Mach lists it and tries to start it).
    module = os.environ.get('PCVM_MACH_MODULE', os.path.join('build', 'tests', 'kernels', 'mb_elf.elf'))
    if not os.path.exists(module):
        raise GuestFailure('module %s is missing (tests/kernels/build.sh builds it)' % module)
    c2 = boot(log_path.replace('.log', '-module.log'), consoles, ['-initrd', module + ' pcvm-module-arg'])
    c2.expect(r'module 0: \S*mb_elf\.elf pcvm-module-arg', 300, 'Mach listing module 0 with its command line')
    c2.expect(r'1 multiboot modules', 60, '"1 multiboot modules"')
    if re.search(r'No bootstrap code loaded', c2.text()):
        raise GuestFailure('GNU Mach found no bootstrap code although a module was given')


if __name__ == '__main__':
    main(test)
