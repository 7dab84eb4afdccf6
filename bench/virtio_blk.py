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
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'guests'))
from console import Console, GuestFailure, cache_dir  # noqa: E402
from linux import initramfs  # noqa: E402

MODULES = ('crct10dif_common crct10dif_generic crc-t10dif crc64 crc64_rocksoft_generic crc64-rocksoft t10-pi '
           'scsi_common scsi_mod libata ata_piix sd_mod virtio_ring virtio virtio_pci_modern_dev '
           'virtio_pci_legacy_dev virtio_pci virtio_blk')
MIB = 1 << 20
# (key, guest command with DEV, bytes moved, unit)
WORK = [
    ('seq_write_MBps', 'dd if=/dev/zero of=DEV bs=1M count=32 conv=fsync 2>/dev/null', 32 * MIB, 'MB/s'),
    ('seq_read_MBps', 'sync; echo 3 > /proc/sys/vm/drop_caches; dd if=DEV of=/dev/null bs=1M count=32 '
     'iflag=direct 2>/dev/null', 32 * MIB, 'MB/s'),
    ('read_4k_iops', 'dd if=DEV of=/dev/null bs=4k count=2048 iflag=direct 2>/dev/null', 2048, 'IOPS'),
]


def timed(c, cmd, tag):
    out = c.run('a=$(cut -d" " -f1 /proc/uptime); %s; b=$(cut -d" " -f1 /proc/uptime); echo "T=$a,$b"'
                % cmd, 900, tag)
    m = re.search(r'T=([0-9.]+),([0-9.]+)', out)
    if not m:
        raise GuestFailure('%s: no timing in %r' % (tag, out[-200:]))
    return max(float(m.group(2)) - float(m.group(1)), 0.01)


def run_one(emu, kind, tmp, logs, runs):
    disks = {}
    for bus in ('ide', 'virtio'):
        disks[bus] = os.path.join(tmp, '%s-%s.raw' % (kind, bus))
        with open(disks[bus], 'wb') as f:
            f.truncate(64 * MIB)
    argv = [emu, '-accel', 'tcg', '-m', '256', '-cpu', 'pentium3', '-nodefaults', '-nic', 'none',
            '-display', 'none', '-serial', 'stdio', '-monitor', 'none',
            '-kernel', os.path.join(cache_dir(), 'guests', 'vmlinuz-686'),
            '-initrd', initramfs(MODULES), '-append', 'console=ttyS0 quiet',
            '-drive', 'file=%s,format=raw,if=ide,cache=writeback' % disks['ide'],
            '-drive', 'file=%s,format=raw,if=virtio,cache=writeback' % disks['virtio']]
    c = Console(argv, os.path.join(logs, 'virtio-blk-%s.log' % kind))
    res = {}
    try:
        c.expect(r'pcvm:[^\n]*# ', 900, 'the shell prompt')
        out = c.run('for i in $(seq 60); do [ -b /dev/sda ] && [ -b /dev/vda ] && break; sleep 1; done; '
                    'ls /dev/sda /dev/vda', 120, 'disks')
        if 'No such file' in out:
            raise GuestFailure('%s: the disks did not appear: %r' % (kind, out[-200:]))
        for bus, dev in (('ide', '/dev/sda'), ('virtio', '/dev/vda')):
            for key, cmd, amount, unit in WORK:
                vals = []
                for i in range(runs):
                    secs = timed(c, cmd.replace('DEV', dev), '%s-%s-%d' % (bus, key, i))
                    vals.append(amount / secs / (1e6 if unit == 'MB/s' else 1))
                res['%s_%s' % (bus, key)] = vals
        c.send('poweroff -f\n')
        c.wait_exit(120)
    finally:
        c.close()
    return res


def main():
    runs = int(os.environ.get('BENCH_VBLK_RUNS', '3'))
    emus = [('pcvm', os.environ.get('BENCH_PCVM', os.path.join(ROOT, 'pcvm'))),
            ('qemu', os.environ.get('BENCH_QEMU', 'qemu-system-i386'))]
    logs = os.path.join(ROOT, 'build', 'bench')
    os.makedirs(logs, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='pcvm-bench-vblk-')
    results = {}
    try:
        for kind, emu in emus:
            print('bench virtio-blk: %s (%d runs of each)' % (kind, runs), file=sys.stderr)
            try:
                results[kind] = run_one(emu, kind, tmp, logs, runs)
            except (GuestFailure, subprocess.TimeoutExpired) as e:
                print('bench virtio-blk: %s failed: %s' % (kind, e), file=sys.stderr)
    finally:
        subprocess.run(['rm', '-rf', tmp])
    lines = ['virtio-blk against IDE, raw 64 MiB disks, cache=writeback (median of %d, one boot each)' % runs,
             '%-30s %10s %10s %10s %10s' % ('metric', 'pcvm IDE', 'pcvm virt', 'QEMU IDE', 'QEMU virt')]
    for key, _, _, unit in WORK:
        row = []
        for kind in ('pcvm', 'qemu'):
            for bus in ('ide', 'virtio'):
                v = results.get(kind, {}).get('%s_%s' % (bus, key))
                row.append('%.1f' % statistics.median(v) if v else 'failed')
        lines.append('%-30s %10s %10s %10s %10s' % ('%s (%s)' % (key.rsplit('_', 1)[0], unit), *row))
    text = '\n'.join(lines)
    print(text)
    out = os.path.join(ROOT, 'bench', 'results')
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'virtio-blk-latest.txt'), 'w') as f:
        f.write(text + '\n')
    with open(os.path.join(out, 'virtio-blk-latest.json'), 'w') as f:
        json.dump(results, f, indent=1)
    return 0 if results.get('pcvm') else 1


if __name__ == '__main__':
    sys.exit(main())
