#!/usr/bin/env python3
"""virtio-blk against IDE (part of `make bench`): pcvm and qemu-system-i386 (TCG) side by side,
each booting Debian's 686 kernel once (bench.py's machine: -accel tcg -m 256 -cpu pentium3
-nodefaults -nic none -display none -serial stdio -monitor none) with two empty 64 MiB raw disks,

    -drive file=ide.raw,format=raw,if=ide,cache=writeback
    -drive file=virtio.raw,format=raw,if=virtio,cache=writeback

(/dev/sda on the PIIX3 through ata_piix + sd_mod, /dev/vda through virtio_blk; both from a
busybox initramfs).  In that one boot, BENCH_VBLK_RUNS times (default 3) for each disk, busybox
dd timed by the guest's /proc/uptime (10 ms resolution):
  - sequential write of 32 MiB (bs=1M conv=fsync),
  - sequential read of those 32 MiB (bs=1M iflag=direct, page cache dropped first),
  - 2048 reads of 4 KiB (bs=4k iflag=direct: one request each, in one dd process), as IOPS.
The table shows the medians; results also in bench/results/virtio-blk-latest.txt (+ .json).
"""
import os
import subprocess
import sys
import tempfile

from guestbench import MIB, alternate, boot, emulators, linux_argv, power_off, save, table, timed
from console import GuestFailure

MODULES = ('crct10dif_common crct10dif_generic crc-t10dif crc64 crc64_rocksoft_generic crc64-rocksoft t10-pi '
           'scsi_common scsi_mod libata ata_piix sd_mod virtio_ring virtio virtio_pci_modern_dev '
           'virtio_pci_legacy_dev virtio_pci virtio_blk')
# (key, guest command with DEV, bytes moved, unit)
WORK = [
    ('seq_write_MBps', 'dd if=/dev/zero of=DEV bs=1M count=32 conv=fsync 2>/dev/null', 32 * MIB, 'MB/s'),
    ('seq_read_MBps', 'sync; echo 3 > /proc/sys/vm/drop_caches; dd if=DEV of=/dev/null bs=1M count=32 '
     'iflag=direct 2>/dev/null', 32 * MIB, 'MB/s'),
    ('read_4k_iops', 'dd if=DEV of=/dev/null bs=4k count=2048 iflag=direct 2>/dev/null', 2048, 'IOPS'),
]


def run_one(emu, kind, tmp, runs):
    disks = {}
    for bus in ('ide', 'virtio'):
        disks[bus] = os.path.join(tmp, '%s-%s.raw' % (kind, bus))
        with open(disks[bus], 'wb') as f:
            f.truncate(64 * MIB)
    c, _ = boot(linux_argv(emu, MODULES, ['-drive', 'file=%s,format=raw,if=ide,cache=writeback' % disks['ide'],
                                          '-drive', 'file=%s,format=raw,if=virtio,cache=writeback' % disks['virtio']]),
                'virtio-blk-%s.log' % kind)
    res = {}
    try:
        out = c.run('for i in $(seq 60); do [ -b /dev/sda ] && [ -b /dev/vda ] && break; sleep 1; done; '
                    'ls /dev/sda /dev/vda', 120, 'disks')
        if 'No such file' in out:
            raise GuestFailure('%s: the disks did not appear: %r' % (kind, out[-200:]))
        for bus, dev in (('ide', '/dev/sda'), ('virtio', '/dev/vda')):
            for key, cmd, amount, unit in WORK:
                vals = []
                for i in range(runs):
                    secs, _ = timed(c, cmd.replace('DEV', dev), '%s-%s-%d' % (bus, key, i))
                    vals.append(amount / secs / (1e6 if unit == 'MB/s' else 1))
                res['%s_%s' % (bus, key)] = vals
    finally:
        power_off(c)
    return res


def main():
    runs = int(os.environ.get('BENCH_VBLK_RUNS', '3'))
    tmp = tempfile.mkdtemp(prefix='pcvm-bench-vblk-')
    try:
        results = alternate(emulators(), 1, lambda kind, emu, i: run_one(emu, kind, tmp, runs), 'virtio-blk')
    finally:
        subprocess.run(['rm', '-rf', tmp])
    # One column per emulator and bus; the values of a boot's dd runs are lists under each key.
    cols = [('pcvm_ide', 'pcvm IDE'), ('pcvm_virtio', 'pcvm virt'), ('qemu_ide', 'QEMU IDE'),
            ('qemu_virtio', 'QEMU virt')]
    per_col = {'%s_%s' % (kind, bus): [{key: r.get('%s_%s' % (bus, key)) for key, _, _, _ in WORK} for r in rs]
               for kind, rs in results.items() for bus in ('ide', 'virtio')}
    text = table('virtio-blk against IDE, raw 64 MiB disks, cache=writeback (median of %d, one boot each)' % runs,
                 cols, [(key, '%s (%s)' % (key.rsplit('_', 1)[0], unit)) for key, _, _, unit in WORK], per_col)
    save('virtio-blk', text, results)
    return 0 if results.get('pcvm') else 1


if __name__ == '__main__':
    sys.exit(main())
