#!/usr/bin/env python3
"""SMP benchmark (issue 20): Debian's Linux (the guest tests' kernel and busybox initramfs)
booted to the initramfs marker at -smp 1, 2, 4 and 8 with pcvm's default (one thread per vCPU)
and with qemu-system-i386 -accel tcg,thread=multi, the two alternating run by run; at -smp 2 one and then two CPU-bound shell loops (pinned to CPU 0
and 1) timed from the host, in both thread modes: with one thread per vCPU two loops should
take about as long as one on a 2-core host (ratio <= 1.2); bench/kernels/spinlock.asm (CPUs
sharing a fixed amount of work under an XCHG spinlock without PAUSE) at -smp 1 and -smp 2 in
both modes (-smp 2 must take no longer); and the one-vCPU speed of bench/kernels/loop.asm
against BENCH_SMP_BASELINE (a pcvm built before the threading, when given).
Medians of BENCH_RUNS runs (default 3; BENCH_BOOT_RUNS for the Linux boots, default 1, at the
CPU counts in BENCH_SMP_BOOT_CPUS, default "1 2 4 8").
Prints a table; exit status 0.
    python3 bench/smp.py [path/to/pcvm]"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'guests'))
from console import Console  # noqa: E402
from linux import cache_dir, initramfs  # noqa: E402

PCVM = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.environ.get('PCVM', './pcvm'))
RUNS = int(os.environ.get('BENCH_RUNS', '3'))
BOOT_RUNS = int(os.environ.get('BENCH_BOOT_RUNS', '1'))
BASELINE = os.environ.get('BENCH_SMP_BASELINE')
QEMU = shutil.which('qemu-system-i386')
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
LOG = os.environ.get('BENCH_SMP_LOG', '/tmp/pcvm-bench-smp.log')
LOOP = "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done"


def start(smp, mode, emu=None):
    argv = [emu or PCVM, '-m', '256', '-kernel', os.path.join(cache_dir(), 'guests', 'vmlinuz-686'),
            '-initrd', initramfs(), '-append', 'console=ttyS0', '-nographic', '-smp', str(smp)]
    if mode:
        argv += ['-accel', 'tcg,thread=' + mode]
    return Console(argv, LOG)


def timed_kernel(binary, args):
    """Wall time of a bare-metal kernel that exits through isa-debug-exit with status 1."""
    t0 = time.monotonic()
    r = subprocess.run([binary, '-display', 'none', '-m', '64', '-no-reboot', '-debugcon', 'stdio',
                        '-device', 'isa-debug-exit,iobase=0xf4,iosize=1'] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=1800)
    took = time.monotonic() - t0
    if r.returncode != 1:
        raise RuntimeError('%s %s: exit %d: %s' % (binary, ' '.join(args), r.returncode, r.stdout[-300:]))
    return took


def build(work, src, out, defines=()):
    subprocess.run(['nasm', '-I', os.path.join(ROOT, 'tests', 'cpu', 'sys') + '/', '-I',
                    os.path.join(ROOT, 'bench', 'kernels') + '/', '-f', 'bin'] + list(defines) +
                   ['-o', os.path.join(work, out), os.path.join(ROOT, src)], check=True)
    return os.path.join(work, out)


def boot(smp, mode, emu=None):
    """Seconds to BOOT-OK, or None when the boot failed (the reason is printed)."""
    t0 = time.monotonic()
    c = start(smp, mode, emu)
    try:
        c.expect(r'BOOT-OK', 900, 'BOOT-OK')
        return time.monotonic() - t0
    except Exception as e:   # noqa: BLE001 - a failed boot is a result, not the end of the bench
        panic = [l for l in c.text().split('\n') if 'Kernel panic' in l]
        print('boot failed: %s -smp %d: %s %s' % (emu or PCVM, smp, e, panic[:1]), flush=True)
        return None
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
    work = tempfile.mkdtemp()
    spin = build(work, 'bench/kernels/spinlock.asm', 'spinlock.bin')
    # One run of every variant in turn, RUNS times: a change in the host's load hits them alike.
    variants = [('spinlock kernel, -smp %d, thread=%s' % (smp, mode), PCVM,
                 ['-smp', str(smp), '-accel', 'tcg,thread=' + mode])
                for smp, mode in ((1, 'single'), (2, 'single'), (2, 'multi'))]
    if QEMU:
        variants += [('spinlock kernel, -smp 1, QEMU', QEMU, ['-smp', '1']),
                     ('spinlock kernel, -smp 2, QEMU thread=multi', QEMU,
                      ['-smp', '2', '-accel', 'tcg,thread=multi'])]
    times = {name: [] for name, _, _ in variants}
    for _ in range(RUNS):
        for name, emu, args in variants:
            times[name].append(timed_kernel(emu, ['-kernel', spin] + args))
    for name, _, _ in variants:
        rows.append((name, statistics.median(times[name]), times[name]))
    loop = build(work, 'bench/kernels/loop.asm', 'loop.bin')
    for name, emu in (('this pcvm', PCVM), ('baseline', BASELINE)):
        if emu:
            t = [timed_kernel(emu, ['-kernel', loop, '-accel', 'tcg,jit=off']) for _ in range(RUNS)]
            rows.append(('one vCPU, loop.asm, jit=off, %s' % name, statistics.median(t), t))
    shutil.rmtree(work, ignore_errors=True)
    for smp in [int(n) for n in os.environ.get('BENCH_SMP_BOOT_CPUS', '1 2 4 8').split()]:
        # pcvm with its default (threads from -smp 2 on), QEMU with -accel tcg,thread=multi;
        # the two alternate run by run.
        emus = [('pcvm', PCVM, None)] + ([('QEMU thread=multi', QEMU, 'multi' if smp > 1 else None)] if QEMU else [])
        times = {name: [] for name, _, _ in emus}
        for _ in range(BOOT_RUNS):
            for name, emu, mode in emus:
                v = boot(smp, mode, emu)
                if v is not None:
                    times[name].append(v)
        for name, _, _ in emus:
            if times[name]:
                rows.append(('Linux boot to BOOT-OK, -smp %d, %s' % (smp, name),
                             statistics.median(times[name]), times[name]))
                print('| %s | %.1f |' % rows[-1][:2], flush=True)
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
