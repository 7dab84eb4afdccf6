#!/usr/bin/env python3
"""Build the benchmark initramfs (cpio newc, gzip) from the cached static i386 busybox.

    bench/make-initramfs.py BUSYBOX OUT [MODULE.ko ...]

/init mounts proc, sys, dev and a tmpfs on /tmp, prints "BOOT-OK uptime=<s>" (the guest's own
/proc/uptime at that point), then reads commands from the console in a shell loop with the prompt "bench# ".
The benchmark scripts live in /b/ (short names: the driver types them over the serial line):
    /b/loop   10,000-iteration shell loop         -> @@loop T0 T1@@
    /b/cat    100 x cat /etc/passwd > /dev/null    -> @@cat T0 T1@@
    /b/prep   4 MiB of busybox's own bytes into /tmp -> @@prep T0 T1@@
    /b/sha    sha256sum of that file                -> @@sha T0 T1@@
    /b/gz     gzip -c of that file > /dev/null      -> @@gz T0 T1@@
    /b/rnd    first read of /dev/urandom (waits for the kernel's CRNG to be seeded;
              given up after 60 s)                  -> @@rnd T0 T1 STATUS@@
The data is deterministic (the same bytes on every run and emulator) rather than random:
reading /dev/urandom first makes Linux gather jitter entropy, which takes as long as the
emulator's timers make it; /b/rnd measures that separately, last, so it cannot stall the rest.
With MODULE.ko files (the disk variant, given in load order: dependencies first), they go to
/lib/modules/ and these scripts drive the scratch disk /dev/sda (the IDE disk on the PIIX3):
    /b/dset   insmod the modules, wait for /dev/sda -> @@dset T0 T1 STATUS@@ (0: /dev/sda is there)
    /b/seqw   64 MiB of zeros, dd bs=1M conv=fsync  -> @@seqw T0 T1@@
    /b/seqr   drop caches, 4 x the same 64 MiB, dd bs=1M iflag=direct -> @@seqr T0 T1@@
    /b/rndw   500 x dd bs=4k count=1 oflag=direct at random 4 KiB blocks of the first 64 MiB
    /b/rndr   500 x dd bs=4k count=1 iflag=direct, likewise
              (ash's RANDOM seeded with a constant: the same offsets on every run and emulator)
    /b/nul    500 x dd bs=4k count=1 from /dev/zero to /dev/null: the loop's own cost
T0 and T1 are /proc/uptime before and after (10 ms resolution).  The output is written without
root: device nodes come from the cpio writer, not mknod.
"""
import gzip
import os
import sys

INIT = r'''#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mdev -s
mount -t tmpfs tmpfs /tmp
hostname bench
read up idle < /proc/uptime
echo "BOOT-OK uptime=$up"
# A plain read loop rather than ash's line editor: the tty stays in canonical mode, so a
# command typed before the shell is ready waits in the line discipline instead of racing
# the editor's switch to raw mode (and its cursor-position query).
exec setsid cttyhack sh -c 'while :; do printf "bench# "; read -r cmd || exit; eval "$cmd"; done'
'''

# Each script prints its marker with the guest's uptime before and after the work.
TIMED = '''#!/bin/sh
read t0 x < /proc/uptime
%s
read t1 x < /proc/uptime
echo "@@%s $t0 $t1@@"
'''
SCRIPTS = {
    'loop': "sh -c 'i=0; while [ $i -lt 10000 ]; do i=$((i+1)); done'",
    'cat': 'n=0; while [ $n -lt 100 ]; do cat /etc/passwd > /dev/null; n=$((n+1)); done',
    'prep': 'cat /bin/busybox /bin/busybox /bin/busybox | head -c 4194304 > /tmp/data',
    'sha': 'sha256sum /tmp/data > /dev/null',
    'gz': 'gzip -c /tmp/data > /dev/null',
}

RND = '''#!/bin/sh
read t0 x < /proc/uptime
timeout 60 dd if=/dev/urandom of=/dev/null bs=16 count=1 2>/dev/null
st=$?
read t1 x < /proc/uptime
echo "@@rnd $t0 $t1 $st@@"
'''

# The disk variant's scripts (with modules only).
DSET = '''#!/bin/sh
read t0 x < /proc/uptime
for m in $(cat /etc/modules-load); do insmod /lib/modules/$m.ko || echo "insmod $m: failed"; done
n=0; while [ ! -b /dev/sda ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done
st=0; [ -b /dev/sda ] || st=1
read t1 x < /proc/uptime
echo "@@dset $t0 $t1 $st@@"
'''
DISK_SCRIPTS = {
    'seqw': 'dd if=/dev/zero of=/dev/sda bs=1M count=64 conv=fsync 2>/dev/null',
    # 4 passes over the 64 MiB written by seqw: 256 MiB, long enough for a 10 ms clock.
    'seqr': 'for p in 1 2 3 4; do dd if=/dev/sda of=/dev/null bs=1M count=64 iflag=direct '
            '2>/dev/null; done',
    'rndw': 'RANDOM=4242; n=0; while [ $n -lt 500 ]; do dd if=/dev/zero of=/dev/sda bs=4k count=1 '
            'seek=$((RANDOM % 16384)) oflag=direct 2>/dev/null; n=$((n+1)); done',
    'rndr': 'RANDOM=2424; n=0; while [ $n -lt 500 ]; do dd if=/dev/sda of=/dev/null bs=4k count=1 '
            'skip=$((RANDOM % 16384)) iflag=direct 2>/dev/null; n=$((n+1)); done',
    'nul': 'RANDOM=2424; n=0; while [ $n -lt 500 ]; do dd if=/dev/zero of=/dev/null bs=4k count=1 '
           'skip=$((RANDOM % 16384)) 2>/dev/null; n=$((n+1)); done',
}
# Page cache dropped before the sequential read: it must come from the disk.
DISK_PRE = {'seqr': 'sync; echo 3 > /proc/sys/vm/drop_caches'}

PASSWD = (b'root:x:0:0:root:/root:/bin/sh\n'
          b'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n'
          b'bin:x:2:2:bin:/bin:/usr/sbin/nologin\n'
          b'sys:x:3:3:sys:/dev:/usr/sbin/nologin\n'
          b'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n')


def build(busybox_path, out_path, modules=()):
    entries = []  # (name, mode, data, (rdev major, minor))

    def d(name):
        entries.append((name, 0o040755, b'', (0, 0)))

    def f(name, data, mode=0o100644):
        entries.append((name, mode, data, (0, 0)))

    def link(name, target):
        entries.append((name, 0o120777, target.encode(), (0, 0)))

    def c(name, major, minor):
        entries.append((name, 0o020600, b'', (major, minor)))

    for n in ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'usr', 'usr/bin',
              'usr/sbin', 'b']:
        d(n)
    with open(busybox_path, 'rb') as fh:
        f('bin/busybox', fh.read(), 0o100755)
    link('bin/sh', 'busybox')
    f('init', INIT.encode(), 0o100755)
    c('dev/console', 5, 1)
    c('dev/null', 1, 3)
    c('dev/ttyS0', 4, 64)
    f('etc/passwd', PASSWD)
    f('etc/group', b'root:x:0:\n')
    for name, body in SCRIPTS.items():
        f('b/' + name, (TIMED % (body, name)).encode(), 0o100755)
    f('b/rnd', RND.encode(), 0o100755)
    if modules:
        d('lib')
        d('lib/modules')
        names = []
        for path in modules:
            name = os.path.basename(path)[:-3]
            names.append(name)
            with open(path, 'rb') as fh:
                f('lib/modules/%s.ko' % name, fh.read())
        f('etc/modules-load', ('\n'.join(names) + '\n').encode())
        f('b/dset', DSET.encode(), 0o100755)
        for name, body in DISK_SCRIPTS.items():
            text = TIMED % (body, name)
            if name in DISK_PRE:  # before the first uptime read: not timed
                text = text.replace('\n', '\n%s\n' % DISK_PRE[name], 1)
            f('b/' + name, text.encode(), 0o100755)

    blob = bytearray()

    def pad4(n):
        return (4 - n % 4) % 4

    def put(ino, name, mode, data, rdev, nlink):
        nb = name.encode() + b'\0'
        hdr = '070701' + ''.join('%08x' % v for v in (
            ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0))
        blob.extend(hdr.encode() + nb + b'\0' * pad4(110 + len(nb)))
        blob.extend(data + b'\0' * pad4(len(data)))

    for i, (name, mode, data, rdev) in enumerate(entries, 1):
        put(i, name, mode, data, rdev, 2 if mode & 0o040000 else 1)
    put(0, 'TRAILER!!!', 0, b'', (0, 0), 1)
    with open(out_path + '.tmp', 'wb') as fh:
        fh.write(gzip.compress(bytes(blob), 9, mtime=0))
    os.replace(out_path + '.tmp', out_path)


if __name__ == '__main__':
    if len(sys.argv) < 3:
        sys.exit('usage: make-initramfs.py BUSYBOX OUT [MODULE.ko ...]')
    build(sys.argv[1], sys.argv[2], sys.argv[3:])
