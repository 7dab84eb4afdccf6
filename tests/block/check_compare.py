#!/usr/bin/env python3
"""pcvm-img check against qemu-img check on damaged qcow2 images: for truncated copies and
copies with random bytes overwritten in the metadata (header, L1, refcount table and block,
L2 tables), both tools must exit with the same status (0 clean, 1 cannot check, 2 corrupt,
3 leaks) and, where qemu-img refuses to open the image, pcvm-img must refuse too.
Deterministic (seeded); PCVM_FUZZ_CASES sets how many random corruptions (default 40; 1000 pass too).
Usage: tests/block/check_compare.py [pcvm-img]; closing line "N passed, N failed"."""
import os
import random
import shutil
import subprocess
import sys
import tempfile

PIMG = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else 'pcvm-img')
CASES = int(os.environ.get('PCVM_FUZZ_CASES', '40'))
T = tempfile.mkdtemp(prefix='pcvm-check-compare-')


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def make_base():
    base = os.path.join(T, 'base.qcow2')
    run(['qemu-img', 'create', '-q', '-f', 'qcow2', base, '64M'])
    run(['qemu-io', '-c', 'write -P 0xaa 0 4M', '-c', 'write -P 0xbb 32M 1M', base])
    run(['qemu-img', 'snapshot', '-c', 's1', base])
    run(['qemu-io', '-c', 'write -P 0xcc 1M 1M', base])
    return base


def compare(name, path, failures):
    q = run(['qemu-img', 'check', path])
    p = run([PIMG, 'check', path])
    if q.returncode != p.returncode:
        failures.append('%s: qemu-img exits %d, pcvm-img %d\n  qemu-img: %s\n  pcvm-img: %s' %
                        (name, q.returncode, p.returncode, (q.stdout + q.stderr).strip()[-300:],
                         (p.stdout + p.stderr).strip()[-300:]))
        return False
    return True


def main():
    base = make_base()
    size = os.path.getsize(base)
    data = open(base, 'rb').read()
    passed, failures = 0, []
    img = os.path.join(T, 'damaged.qcow2')
    # Truncations: inside the header, at and around every metadata cluster, inside data.
    cuts = sorted(set([50, 100, 104, 300, 4096, 65535, 65536, 65537, 131072, 196608, 200000, 262144,
                       327680, 400000, size // 2, size - 65536, size - 1]))
    for cut in cuts:
        with open(img, 'wb') as f:
            f.write(data[:cut])
        passed += compare('truncated to %d bytes' % cut, img, failures)
    # Random corruptions of 1-8 bytes in the metadata clusters (the first 6 clusters).
    rng = random.Random(13)
    for i in range(CASES):
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            off = rng.randrange(0, min(size, 6 * 65536)) if rng.random() < 0.5 else rng.randrange(0, 512)
            b[off] = rng.randrange(256)
        with open(img, 'wb') as f:
            f.write(b)
        passed += compare('random corruption #%d' % i, img, failures)
    for f in failures:
        print('FAIL ' + f)
    shutil.rmtree(T, ignore_errors=True)
    print('%d passed, %d failed' % (passed, len(failures)))
    return 1 if failures else 0


sys.exit(main())
