#!/usr/bin/env python3
"""virtio-9p (part of `make bench`): pcvm and qemu-system-i386 (TCG) side by side, alternating
one boot each per run (bench.py's machine, see guestbench.py) with

    -virtfs local,path=DIR,mount_tag=host0,security_model=none

mounted in the guest with `-o trans=virtio,version=9p2000.L,msize=262144` (no cache: every
read and write goes to the server).  Per boot, timed by the guest's /proc/uptime:
  - read: a 64 MiB file the host wrote (`dd bs=1M` to /dev/null);
  - write: 64 MiB from /dev/zero into a new file (`dd bs=1M conv=fsync`), checked for size on
    the host afterwards.
Results: the medians in bench/results/virtio-9p-latest.txt (+ .json).
  BENCH_9P_RUNS=N  boots per emulator (default 3)
"""
import os
import shutil
import sys
import tempfile

from guestbench import MIB, alternate, boot, emulators, linux_argv, power_off, save, table, timed
from console import GuestFailure

SIZE = 64 * MIB
MODULES = ('virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci netfs fscache '
           '9pnet 9pnet_virtio 9p')


def run_one(emu, kind, share, i):
    out_file = os.path.join(share, 'out-%s-%d.bin' % (kind, i))
    c, _ = boot(linux_argv(emu, MODULES, ['-virtfs', 'local,path=%s,mount_tag=host0,security_model=none' % share]),
                'virtio-9p-%s.log' % kind)
    try:
        out = c.run('mkdir -p /mnt/h && mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 host0 /mnt/h '
                    '&& echo MOUNTED', 120, 'mount')
        if 'MOUNTED' not in out:
            raise GuestFailure('%s: mount failed: %r' % (kind, out[-300:]))
        rd, out = timed(c, 'dd if=/mnt/h/big.bin of=/dev/null bs=1M 2>&1 | tail -1', 'read')
        if '64+0 records out' not in out:
            raise GuestFailure('%s: reading 64 MiB over 9p: %r' % (kind, out[-300:]))
        wr, _ = timed(c, 'dd if=/dev/zero of=/mnt/h/%s bs=1M count=64 conv=fsync 2>/dev/null'
                      % os.path.basename(out_file), 'write')
    finally:
        power_off(c)
    size = os.path.getsize(out_file) if os.path.exists(out_file) else 0
    if size != SIZE:
        raise GuestFailure('%s: the host sees %d bytes of the 64 MiB the guest wrote' % (kind, size))
    os.unlink(out_file)
    return {'read_MiBps': SIZE / MIB / rd, 'write_MiBps': SIZE / MIB / wr}


def main():
    runs = int(os.environ.get('BENCH_9P_RUNS', '3'))
    tmp = tempfile.mkdtemp(prefix='pcvm-bench-9p-')
    try:
        with open(os.path.join(tmp, 'big.bin'), 'wb') as f:
            f.write(os.urandom(SIZE))
        results = alternate(emulators(), runs, lambda kind, emu, i: run_one(emu, kind, tmp, i), 'virtio-9p')
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = table('virtio-9p, security_model=none, msize=262144, 64 MiB with dd bs=1M (median of %d boots each)'
                 % runs, [('pcvm', 'pcvm'), ('qemu', 'QEMU')],
                 [('read_MiBps', 'read MiB/s'), ('write_MiBps', 'write MiB/s (conv=fsync)')], results)
    save('virtio-9p', text, results)
    return 0 if results.get('pcvm') else 1


if __name__ == '__main__':
    sys.exit(main())
