#!/usr/bin/env python3
"""Snapshot benchmark (part of `make bench`): restore time of pcvm and qemu-system-i386 (TCG) on
the same guest.  Each emulator boots Debian's 686 kernel with the busybox initramfs (256 MiB,
a 64 MiB qcow2 disk made by qemu-img, -nic none) to its shell, takes `savevm bench` over its
monitor socket (the time and the VM size from `info snapshots` are reported) and quits.  Then,
BENCH_SNAP_RUNS times each, a fresh process starts with `-loadvm bench` and the time is taken
from its start until the guest answers a shell command on the serial console (so it counts the
process start, reading the state and the guest running again).  pcvm also migrates to a file
(`migrate file:`) and is timed starting from it with `-incoming file:` (RAM mapped
copy-on-write; its own load time is read from `info migrate`).  The emulators take turns run by
run.  Medians and the ratio QEMU / pcvm, every run's time and the host's load average: a table
on stdout and bench/results/snapshot-latest.txt (+ .json).
  BENCH_SNAP_RUNS=N  runs per emulator and row (default 5)
"""
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'guests'))
from console import Console, GuestFailure, cache_dir  # noqa: E402
from linux import initramfs  # noqa: E402


def hmp(path, line, timeout=600):
    """One HMP command on a monitor socket; returns its output."""
    s = socket.socket(socket.AF_UNIX)
    for _ in range(100):
        try:
            s.connect(path)
            break
        except OSError:
            time.sleep(0.1)
    s.settimeout(timeout)
    data = b''
    while not data.endswith(b'(qemu) '):
        data += s.recv(65536)
    s.sendall(line.encode() + b'\r')
    data = b''
    while not data.endswith(b'(qemu) '):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    out = data.decode('utf-8', 'replace').replace('\r\n', '\n')
    return out.split('\n', 1)[1][:-len('(qemu) ')] if '\n' in out else ''


def argv_for(emu, disk, mon, extra=()):
    return [emu, '-m', '256', '-kernel', os.path.join(cache_dir(), 'guests', 'vmlinuz-686'),
            '-initrd', initramfs(), '-append', 'console=ttyS0 quiet', '-nographic', '-nic', 'none',
            '-drive', 'file=%s,format=qcow2,if=ide' % disk, '-monitor', 'unix:%s,server,nowait' % mon] + list(extra)


def answer_time(argv, log, after=None):
    """Seconds from the start of argv until the guest's shell answers (then after() runs, if given,
    while the machine is still up)."""
    t0 = time.monotonic()
    c = Console(argv, log)
    try:
        c.send('echo R-$((6*7))\n')
        deadline = time.monotonic() + 120
        while True:
            try:
                c.expect(r'R-42', 0.05, 'the answer')
                break
            except GuestFailure:
                if time.monotonic() > deadline or c.proc.poll() is not None:
                    raise
                c.send('echo R-$((6*7))\n')   # typed before the restore began: type it again
        t = time.monotonic() - t0
        if after:
            after()
        return t
    finally:
        c.close()


def prepare(kind, emu, tmp):
    disk = os.path.join(tmp, '%s.qcow2' % kind)
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', disk, '64M'], check=True)
    mon = os.path.join(tmp, '%s.sock' % kind)
    c = Console(argv_for(emu, disk, mon), os.path.join(tmp, '%s-boot.log' % kind))
    try:
        c.expect(r'pcvm:[^\n]*# ', 900, 'the shell prompt')
        c.run('echo ready', 60, 'ready')
        t0 = time.monotonic()
        out = hmp(mon, 'savevm bench')
        save = time.monotonic() - t0
        if out.strip():
            raise GuestFailure('%s: savevm said %r' % (kind, out))
        info = hmp(mon, 'info snapshots')
        m = re.search(r'bench\s+(\S+ \S+)', info)
        size = m.group(1) if m else '?'
        state = None
        if kind == 'pcvm':
            state = os.path.join(tmp, 'pcvm.state')
            out = hmp(mon, 'migrate file:%s' % state)
            if out.strip():
                raise GuestFailure('migrate file: said %r' % out)
        hmp(mon, 'quit')
        c.wait_exit(60)
        return disk, save, size, state
    finally:
        c.close()


def main():
    runs = int(os.environ.get('BENCH_SNAP_RUNS', '5'))
    emus = {'pcvm': os.environ.get('BENCH_PCVM', os.path.join(ROOT, 'pcvm')),
            'qemu': os.environ.get('BENCH_QEMU', shutil.which('qemu-system-i386') or 'qemu-system-i386')}
    tmp = tempfile.mkdtemp(prefix='pcvm-bench-snap-')
    res = {}
    load_before = os.getloadavg()[0]
    try:
        prepared = {}
        for kind, emu in emus.items():
            disk, save, size, state = prepare(kind, emu, tmp)
            prepared[kind] = (disk, state)
            res[kind] = {'savevm_s': round(save, 3), 'vm_size': size, 'loadvm_runs': [], 'incoming_runs': [],
                         'incoming_load_ms': []}
        # The emulators take turns run by run (and which one goes first alternates), so a change
        # in the host's load hits both alike; each run is the same command line.
        for i in range(runs):
            for kind in (list(emus) if i % 2 == 0 else list(emus)[::-1]):
                emu = emus[kind]
                disk, state = prepared[kind]
                mon = os.path.join(tmp, '%s-r.sock' % kind)
                t = answer_time(argv_for(emu, disk, mon, ['-loadvm', 'bench']), os.path.join(tmp, 'r.log'))
                res[kind]['loadvm_runs'].append(round(t, 3))
                if state:
                    def load_ms(rows=res[kind], mon=mon):
                        m = re.search(r'total time: (\d+) ms', hmp(mon, 'info migrate', 60))
                        if m:
                            rows['incoming_load_ms'].append(int(m.group(1)))
                    t = answer_time(argv_for(emu, disk, mon, ['-incoming', 'file:%s' % state]),
                                    os.path.join(tmp, 'r.log'), load_ms)
                    res[kind]['incoming_runs'].append(round(t, 3))
        for rows in res.values():
            rows['loadvm_s'] = statistics.median(rows['loadvm_runs'])
            if rows['incoming_runs']:
                rows['incoming_s'] = statistics.median(rows['incoming_runs'])
            if rows['incoming_load_ms']:
                rows['incoming_load_ms_median'] = statistics.median(rows['incoming_load_ms'])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    ratio = res['qemu']['loadvm_s'] / res['pcvm']['loadvm_s']
    load_after = os.getloadavg()[0]
    p, q = res['pcvm'], res['qemu']
    lines = ['snapshot restore, 256 MiB Linux at its shell, start to the shell answering (median of %d, '
             'runs alternating; load average %.1f before, %.1f after)' % (runs, load_before, load_after),
             '%-34s %10s %10s' % ('', 'pcvm', 'qemu'),
             '%-34s %9.3fs %9.3fs' % ('-loadvm', res['pcvm']['loadvm_s'], res['qemu']['loadvm_s']),
             '%-34s %9.3fs %10s' % ('-incoming file: (pcvm)', res['pcvm']['incoming_s'], '-'),
             '%-34s %9.3fs %9.3fs' % ('savevm (monitor round trip)', res['pcvm']['savevm_s'], res['qemu']['savevm_s']),
             '%-34s %10s %10s' % ('VM size (info snapshots)', res['pcvm']['vm_size'], res['qemu']['vm_size']),
             '%-34s %9.0fms %10s' % ('-incoming load (info migrate)', p.get('incoming_load_ms_median', -1), '-'),
             'qemu/pcvm -loadvm time ratio: %.2f' % ratio,
             'runs: pcvm -loadvm %s; qemu -loadvm %s; pcvm -incoming %s' % (
                 p['loadvm_runs'], q['loadvm_runs'], p['incoming_runs'])]
    text = '\n'.join(lines) + '\n'
    print(text, end='')
    out = os.environ.get('BENCH_OUT', os.path.join(ROOT, 'bench', 'results'))
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'snapshot-latest.txt'), 'w') as f:
        f.write(text)
    with open(os.path.join(out, 'snapshot-latest.json'), 'w') as f:
        json.dump({'runs': runs, 'results': res, 'ratio_loadvm': ratio, 'load_before': load_before,
                   'load_after': load_after}, f, indent=1)


if __name__ == '__main__':
    main()
