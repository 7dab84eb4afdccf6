#!/usr/bin/env python3
"""SMP benchmark: Debian's Linux (the guest tests' kernel and busybox initramfs) booted to the
initramfs marker at -smp 1, 2 and 4 with -accel tcg,thread=single and thread=multi, and at
-smp 2 one and then two CPU-bound shell loops (pinned to CPU 0 and 1) timed from the host:
with one thread per vCPU two loops should take about as long as one on a 2-core host.
Medians of BENCH_RUNS runs (default 3).  Prints a table; exit status 0.
    python3 bench/smp.py [path/to/pcvm]"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'guests'))
from console import Console  # noqa: E402
from linux import cache_dir, initramfs  # noqa: E402

PCVM = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.environ.get('PCVM', './pcvm'))
RUNS = int(os.environ.get('BENCH_RUNS', '3'))
LOG = os.environ.get('BENCH_SMP_LOG', '/tmp/pcvm-bench-smp.log')
LOOP = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"


def start(smp, mode):
    argv = [PCVM, '-m', '256', '-kernel', os.path.join(cache_dir(), 'guests', 'vmlinuz-686'),
            '-initrd', initramfs(), '-append', 'console=ttyS0', '-nographic',
            '-smp', str(smp), '-accel', 'tcg,thread=' + mode]
    return Console(argv, LOG)


def boot(smp, mode):
    t0 = time.monotonic()
    c = start(smp, mode)
    try:
        c.expect(r'BOOT-OK', 900, 'BOOT-OK')
        return time.monotonic() - t0
    finally:
        c.close()


def loops(mode):
    c = start(2, mode)
    try:
        c.expect(r'pcvm:[^\n]*# ', 900, 'the shell prompt')
        t0 = time.monotonic()
        c.run("taskset -c 0 sh -c '%s'" % LOOP, 900, 'one')
        one = time.monotonic() - t0
        t0 = time.monotonic()
        c.run("taskset -c 0 sh -c '%s' & taskset -c 1 sh -c '%s' & wait" % (LOOP, LOOP), 900, 'two')
        two = time.monotonic() - t0
        return one, two
    finally:
        c.close()


def main():
    rows = []
    for smp in (1, 2, 4):
        for mode in ('single', 'multi'):
            t = [boot(smp, mode) for _ in range(RUNS)]
            rows.append(('Linux boot to BOOT-OK, -smp %d, thread=%s' % (smp, mode), statistics.median(t), t))
    for mode in ('single', 'multi'):
        r = [loops(mode) for _ in range(RUNS)]
        one = statistics.median(x[0] for x in r)
        two = statistics.median(x[1] for x in r)
        rows.append(('-smp 2 thread=%s: one shell loop' % mode, one, [x[0] for x in r]))
        rows.append(('-smp 2 thread=%s: two loops on CPU 0 and 1 (ratio to one: %.2f)' % (mode, two / one),
                     two, [x[1] for x in r]))
    print('| measurement | median (s) | runs |')
    print('|---|---|---|')
    for name, med, runs in rows:
        print('| %s | %.1f | %s |' % (name, med, ' '.join('%.1f' % v for v in runs)))
    print('load average at the end: %s' % open('/proc/loadavg').read().split()[0])


if __name__ == '__main__':
    main()
