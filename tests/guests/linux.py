#!/usr/bin/env python3
"""Guest 1: Debian's 686 kernel with a busybox initramfs on ttyS0, driven through the shell."""
import os
import re
import subprocess
import time

from console import Console, GuestFailure, cache_dir, emulator, main

CPU = os.environ.get('PCVM_GUEST_CPU', 'pentium3')
# What Linux prints as "model name" for each -cpu model (family/model tables or brand string).
MODEL_NAMES = {
    'pentium3': r'Pentium(\(R\))? III', 'pentium2': r'Pentium(\(R\))? II',
    'pentium': r'Pentium', 'pentium-mmx': r'Pentium', '486': r'486',
    'qemu32': r'QEMU Virtual CPU', 'athlon': r'Athlon', 'pentium4': r'Pentium(\(R\))? 4',
    'coreduo': r'(Core|T2600)',
}


def test(log_path, consoles):
    cache = cache_dir()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    subprocess.run(['bash', os.path.join(root, 'scripts', 'make-initramfs.sh')], check=True)
    argv = [emulator(), '-m', '256', '-cpu', CPU,
            '-kernel', os.path.join(cache, 'guests', 'vmlinuz-686'),
            '-initrd', os.path.join(cache, 'initramfs.cpio.gz'),
            '-append', 'console=ttyS0', '-nographic']
    c = Console(argv, log_path)
    consoles.append(c)
    c.expect(r'Linux version 6\.', 120, 'the kernel banner')
    c.expect(r'BOOT-OK', 600, 'the initramfs marker BOOT-OK')
    c.expect(r'pcvm:[^\n]*# ', 120, 'the shell prompt')

    out = c.run('uname -a', 60, 'uname')
    if not re.search(r'Linux pcvm 6\.\S+-686 .* i686', out):
        raise GuestFailure('uname -a printed %r' % out.strip())

    out = c.run("grep -m1 'model name' /proc/cpuinfo", 60, 'cpuinfo')
    want = MODEL_NAMES.get(CPU)
    if want and not re.search(r'model name\s*:.*' + want, out):
        raise GuestFailure('/proc/cpuinfo names %r, expected %s for -cpu %s' % (out.strip(), want, CPU))

    out = c.run('date +%s', 60, 'date')
    host = time.time()
    m = re.search(r'^(\d{9,})$', out, re.M)
    if not m:
        raise GuestFailure('date +%%s printed %r' % out.strip())
    if abs(int(m.group(1)) - host) > 5:
        raise GuestFailure('guest date %s differs from the host (%d) by %.0f s' %
                           (m.group(1), host, int(m.group(1)) - host))

    out = c.run('i=0; while [ $i -lt 10000 ]; do i=$((i+1)); done; echo "loop=$i"', 300, 'loop')
    if 'loop=10000' not in out:
        raise GuestFailure('the 10,000-iteration loop printed %r' % out.strip())

    out = c.run('cat /etc/passwd', 60, 'passwd')
    if 'root:x:0:0:' not in out:
        raise GuestFailure('cat /etc/passwd printed %r' % out.strip())

    c.send('poweroff -f\n')
    status = c.wait_exit(120)
    if status != 0:
        raise GuestFailure('poweroff -f ended the emulator with status %d, expected 0' % status)

    bad = re.findall(r'^.*\b(?:BUG|WARNING|Oops|panic)\b.*$', c.text(), re.M)
    if bad:
        raise GuestFailure('the kernel log has problems: %s' % ' | '.join(l.strip() for l in bad[:5]))


if __name__ == '__main__':
    main(test)
