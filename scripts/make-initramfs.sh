#!/usr/bin/env bash
# Build a busybox initramfs (cpio newc, gzip) for the default Linux guest and the guest tests.
#   scripts/make-initramfs.sh [-o OUT] [--script FILE] [--modules "mod1 mod2 ..."]
# /init mounts proc, sys and dev, loads the --modules (taken from the cached linux-image package,
# in the order given: dependencies first; "insmod NAME: ..." on failure), prints BOOT-OK on the
# console, then:
#   - with --script FILE: runs FILE (baked in as /test.sh) and powers off;
#   - otherwise: an interactive shell on the console (job control via setsid cttyhack);
#     leaving that shell powers the machine off.
# The archive is written without root: device nodes come from the cpio writer, not mknod.
# Default OUT: ${PCVM_CACHE:-$HOME/.cache/pcvm}/initramfs.cpio.gz.  Quiet when up to date.
set -euo pipefail
CACHE=${PCVM_CACHE:-$HOME/.cache/pcvm}
here=$(cd "$(dirname "$0")" && pwd)
out=$CACHE/initramfs.cpio.gz
script=""
modules=""
while [ $# -gt 0 ]; do
  case $1 in
    -o) out=$2; shift 2 ;;
    --script) script=$2; shift 2 ;;
    --modules) modules=$2; shift 2 ;;
    *) echo "make-initramfs: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
bb=$CACHE/guests/busybox
[ -f "$bb" ] || bash "$here/fetch-guests.sh" busybox
# Module files, found by name in the extracted linux-image package.
modpaths=""
if [ -n "$modules" ]; then
  [ -d "$CACHE/root/linux/lib/modules" ] || bash "$here/fetch-guests.sh" linux
  for m in $modules; do
    p=$(find "$CACHE/root/linux/lib/modules" -name "$m.ko" | head -1)
    [ -n "$p" ] || { echo "make-initramfs: no module $m.ko in $CACHE/root/linux" >&2; exit 1; }
    modpaths="$modpaths $p"
  done
fi
# Up to date when newer than busybox, this script, the test script and the module list.
stamp="$out.modules"
if [ -f "$out" ] && [ "$out" -nt "$bb" ] && [ "$out" -nt "$0" ] && { [ -z "$script" ] || [ "$out" -nt "$script" ]; } &&
   [ "$(cat "$stamp" 2>/dev/null)" = "$modules" ]; then
  exit 0
fi
command -v python3 >/dev/null || { echo "make-initramfs: python3 is needed" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
# shellcheck disable=SC2086
python3 - "$bb" "$out.tmp.$$" "$script" $modpaths <<'PY'
import gzip, os, sys
busybox, out, script, modules = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]

INIT = r'''#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null || mdev -s
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
hostname pcvm
if [ -f /etc/modules-load ]; then
    for m in $(cat /etc/modules-load); do
        insmod /lib/modules/$m.ko || echo "insmod $m: failed"
    done
fi
echo "BOOT-OK"
if [ -x /test.sh ]; then
    /test.sh
    echo "TEST-EXIT $?"
    poweroff -f
fi
echo "pcvm: busybox shell on the console; 'exit' or 'poweroff -f' ends the machine"
setsid cttyhack sh -l
poweroff -f
'''
PROFILE = 'export PS1="pcvm:\\w# "\nexport PATH=/sbin:/bin:/usr/sbin:/usr/bin\n'

entries = []   # (name, mode, data, rdev)
def d(name): entries.append((name, 0o040755, b'', (0, 0)))
def f(name, data, mode=0o100644): entries.append((name, mode, data, (0, 0)))
def l(name, target): entries.append((name, 0o120777, target.encode(), (0, 0)))
def c(name, major, minor): entries.append((name, 0o020600, b'', (major, minor)))

for n in ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'root', 'usr', 'usr/bin',
          'usr/sbin', 'var', 'run', 'mnt']:
    d(n)
f('bin/busybox', open(busybox, 'rb').read(), 0o100755)
l('bin/sh', 'busybox')
f('init', INIT.encode(), 0o100755)
c('dev/console', 5, 1)
c('dev/null', 1, 3)
c('dev/ttyS0', 4, 64)
f('etc/passwd', b'root:x:0:0:root:/root:/bin/sh\n')
f('etc/group', b'root:x:0:\n')
f('etc/shadow', b'root::1:0:99999:7:::\n', 0o100600)
f('etc/hostname', b'pcvm\n')
f('etc/profile', PROFILE.encode())
if script:
    f('test.sh', open(script, 'rb').read(), 0o100755)
if modules:
    d('lib')
    d('lib/modules')
    names = []
    for path in modules:
        name = os.path.basename(path)[:-3]
        names.append(name)
        f('lib/modules/%s.ko' % name, open(path, 'rb').read())
    f('etc/modules-load', ('\n'.join(names) + '\n').encode())

def pad4(n): return (4 - n % 4) % 4
blob = bytearray()
def put(ino, name, mode, data, rdev, nlink=1):
    nb = name.encode() + b'\0'
    hdr = '070701' + ''.join('%08x' % v for v in (
        ino, mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(nb), 0))
    blob.extend(hdr.encode() + nb + b'\0' * pad4(110 + len(nb)))
    blob.extend(data + b'\0' * pad4(len(data)))
for i, (name, mode, data, rdev) in enumerate(entries, 1):
    put(i, name, mode, data, rdev, 2 if mode & 0o040000 else 1)
put(0, 'TRAILER!!!', 0, b'', (0, 0))
with open(out, 'wb') as fh:
    fh.write(gzip.compress(bytes(blob), 9, mtime=0))
PY
mv "$out.tmp.$$" "$out"
if [ -n "$modules" ]; then echo "$modules" > "$stamp"; else rm -f "$stamp"; fi
