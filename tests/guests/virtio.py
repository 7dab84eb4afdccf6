#!/usr/bin/env python3
"""virtio-blk-pci and virtio-rng-pci with Debian's 686 Linux, one boot for every check.

The disk uses the GNU/Hurd box's form (`-drive file=IMG,if=none,id=hd0,format=qcow2 -device
virtio-blk-pci,drive=hd0`) on a qcow2 image made by qemu-img; a second, raw disk comes from
`-drive if=virtio` (created first, so it is vda); the rng is `-device virtio-rng-pci`.  Linux
drives all three through the 1.0 interface.  The virtio modules are loaded from the busybox
initramfs, then:
  - the kernel log shows both disks (vda 1 MiB raw, vdb 8 MiB qcow2) and no errors;
  - the guest reads the first 256 KiB of vdb and its sha256 matches the host's data;
  - the guest writes a random token at sector 1000 of vdb (dd, sync) and one at sector 10 of
    vda; after poweroff, qemu-img convert of the qcow2 image and the raw file show them;
  - /dev/hwrng gives 64 bytes, from virtio_rng.0, and they are not all the same;
  - -d guest_errors logged nothing about virtio.
"""
import hashlib
import os
import re
import secrets
import shutil
import subprocess
import tempfile

from console import GuestFailure, main
from linux import boot_to_shell, check_clean, initramfs, power_off

MODULES = 'virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk virtio-rng'


def test(log_path, consoles):
    tmp = tempfile.mkdtemp(prefix='pcvm-virtio-')
    try:
        raw, qcow, raw2 = (os.path.join(tmp, n) for n in ('src.raw', 'hd0.qcow2', 'vdb.raw'))
        head = os.urandom(256 << 10)
        with open(raw, 'wb') as f:
            f.write(head)
            f.truncate(8 << 20)
        with open(raw2, 'wb') as f:
            f.truncate(1 << 20)
        r = subprocess.run(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', raw, qcow],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise GuestFailure('qemu-img convert to qcow2 failed: %s' % r.stdout.strip())
        errlog = os.path.join(tmp, 'errors.log')
        c = boot_to_shell(log_path, consoles,
                          ['-drive', 'file=%s,if=none,id=hd0,format=qcow2' % qcow,
                           '-device', 'virtio-blk-pci,drive=hd0',
                           '-drive', 'file=%s,if=virtio,format=raw' % raw2,
                           '-device', 'virtio-rng-pci',
                           '-d', 'guest_errors', '-D', errlog],
                          append='console=ttyS0 loglevel=7', initrd=initramfs(MODULES))
        problems = []
        if re.search(r'insmod \S+: failed', c.text()):
            raise GuestFailure('loading the virtio modules failed: %s' %
                               re.search(r'insmod \S+: failed.*', c.text()).group(0))
        out = c.run('cat /proc/partitions', 60, 'partitions')
        if not re.search(r'\b1024\s+vda\b', out) or not re.search(r'\b8192\s+vdb\b', out):
            raise GuestFailure('/proc/partitions lacks vda (1024 KiB) and vdb (8192 KiB): %r' % out.strip())
        out = c.run('dd if=/dev/vdb bs=4096 count=64 2>/dev/null | sha256sum', 300, 'read')
        want = hashlib.sha256(head).hexdigest()
        if want not in out:
            problems.append('the guest read sha256 %r from vdb, the host wrote %s' % (out.strip(), want))
        tok1, tok2 = secrets.token_hex(16), secrets.token_hex(16)
        c.run('echo %s > /tmp/t1; dd if=/tmp/t1 of=/dev/vdb bs=512 seek=1000 conv=fsync 2>/dev/null; '
              'echo %s > /tmp/t2; dd if=/tmp/t2 of=/dev/vda bs=512 seek=10 conv=fsync 2>/dev/null; sync'
              % (tok1, tok2), 300, 'write')
        out = c.run('dd if=/dev/vdb bs=512 skip=1000 count=1 2>/dev/null | head -c 32; echo', 120, 'readback')
        if tok1 not in out:
            problems.append('vdb sector 1000 read back %r, wrote %s' % (out.strip(), tok1))
        out = c.run('head -c 64 /dev/hwrng | od -An -tx1; cat /sys/class/misc/hw_random/rng_current',
                    120, 'hwrng')
        rnd = [b for line in re.findall(r'^(?: [0-9a-f]{2})+\s*$', out, re.M) for b in line.split()]
        if 'virtio_rng.0' not in out:
            problems.append('rng_current is not virtio_rng.0: %r' % out.strip())
        if len(rnd) != 64 or len(set(rnd)) < 16:
            problems.append('/dev/hwrng gave %r' % out.strip())
        full = c.run('dmesg', 120, 'dmesg')
        for rx, what in ((r'virtio_blk virtio\d+: \[vda\] 2048 512-byte logical blocks', 'vda with 2048 sectors'),
                         (r'virtio_blk virtio\d+: \[vdb\] 16384 512-byte logical blocks', 'vdb with 16384 sectors')):
            if not re.search(rx, full):
                problems.append('dmesg lacks %s' % what)
        for check in (lambda: check_clean(full, 'the kernel log (dmesg)'), lambda: power_off(c)):
            try:
                check()
            except GuestFailure as e:
                problems.append(str(e))
        errs = open(errlog, errors='replace').read() if os.path.exists(errlog) else ''
        if 'virtio' in errs:
            problems.append('-d guest_errors logged: %r' % errs[:300])
        back = os.path.join(tmp, 'back.raw')
        r = subprocess.run(['qemu-img', 'convert', '-f', 'qcow2', '-O', 'raw', qcow, back],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            problems.append('qemu-img convert of the guest-written image failed: %s' % r.stdout.strip())
        else:
            with open(back, 'rb') as f:
                f.seek(1000 * 512)
                got = f.read(32).decode('ascii', 'replace')
            if got != tok1:
                problems.append('qemu-img sees %r at sector 1000 of the qcow2 image, the guest wrote %s' % (got, tok1))
        with open(raw2, 'rb') as f:
            f.seek(10 * 512)
            got = f.read(32).decode('ascii', 'replace')
        if got != tok2:
            problems.append('the raw if=virtio disk has %r at sector 10, the guest wrote %s' % (got, tok2))
        if problems:
            raise GuestFailure('; '.join(problems))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main(test)
