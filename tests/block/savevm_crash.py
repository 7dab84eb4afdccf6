#!/usr/bin/env python3
"""A savevm killed at any point leaves the qcow2 image as it was before.

strace's fault injection kills pcvm (SIGKILL) on entry to its Nth pwrite64 or fdatasync, for
every N a savevm makes, so each write and flush of the savevm is the last one that happens.
The image holds a disk-only snapshot made by qemu-img and a VM snapshot made by pcvm; two
savevm kinds are killed: a new name, and HMP's replacement of an existing VM snapshot. After
each kill: `qemu-img check` finds no error and no leak; `qemu-img snapshot -l` lists the same
snapshots as before (or, for kills after the header switched, those plus the complete new one);
each snapshot's disk and the active disk read back the same bytes; pcvm loads the new VM
snapshot when it is there, and the old one after the last kill of each call that keeps it.
Usage: tests/block/savevm_crash.py [path/to/pcvm]; closing line "N passed, N failed".
"""
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

PCVM = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else 'pcvm')
T = tempfile.mkdtemp(prefix='pcvm-savevm-crash-')


class Hmp:
    """The human monitor on a unix socket: one command, its reply up to the next prompt."""

    def __init__(self, path):
        deadline = time.monotonic() + 30
        while True:
            self.sock = socket.socket(socket.AF_UNIX)
            try:
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise RuntimeError('cannot connect to %s' % path)
                time.sleep(0.05)
        self.sock.settimeout(60)
        self.buf = b''
        self.reply()

    def reply(self):
        """Text up to the prompt, or None when pcvm went away."""
        while b'(qemu) ' not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data
        text, self.buf = self.buf.split(b'(qemu) ', 1)
        return text.decode('utf-8', 'replace')

    def cmd(self, line):
        self.sock.sendall(line.encode() + b'\n')
        out = self.reply()
        return None if out is None else out.split('\n', 1)[-1]


def run(cmd):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def machine(disk, sock, extra=()):
    return [PCVM, '-S', '-m', '32', '-nographic', '-nic', 'none', '-serial', 'null',
            '-drive', 'file=%s,format=qcow2,if=ide' % disk, '-monitor', 'unix:%s,server,nowait' % sock] + list(extra)


def hmp_session(argv, sock, commands):
    """Start pcvm, run the commands, quit; the replies (None from a command pcvm died in)."""
    if os.path.exists(sock):
        os.unlink(sock)
    log = open(os.path.join(T, 'pcvm.log'), 'w+')
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    out = []
    try:
        try:
            h = Hmp(sock)
            for c in commands:
                r = h.cmd(c)
                out.append(r)
                if r is None:
                    break
            else:
                h.cmd('quit')
            h.sock.close()
        except OSError:   # pcvm went away
            out.append(None)
        p.wait(60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    log.seek(0)
    text = log.read()
    log.close()
    return out, p.returncode, text


def snapshots(disk):
    """(id, tag, vm size, date, vm clock) of every snapshot qemu-img lists."""
    r = run(['qemu-img', 'snapshot', '-l', disk])
    return [tuple(l.split()[:6]) for l in r.stdout.splitlines()[2:] if l.strip()]


def digest(disk, snap=None):
    raw = os.path.join(T, 'read.raw')
    cmd = ['qemu-img', 'convert', '-O', 'raw'] + (['-l', 'snapshot.name=' + snap] if snap else []) + [disk, raw]
    r = run(cmd)
    if r.returncode:
        return 'unreadable: ' + r.stdout.strip()
    with open(raw, 'rb') as f:
        h = hashlib.sha256(f.read()).hexdigest()
    os.unlink(raw)
    return h


def loads(disk, name):
    """pcvm starts from the VM snapshot and its monitor answers."""
    sock = os.path.join(T, 'load.sock')
    out, rc, text = hmp_session(machine(disk, sock, ['-loadvm', name]), sock, ['info status'])
    return rc == 0 and out and out[0] is not None and 'VM status: paused' in out[0], text.strip()[:200]


def make_base():
    base = os.path.join(T, 'base.qcow2')
    run(['qemu-img', 'create', '-q', '-f', 'qcow2', base, '16M'])
    run(['qemu-io', '-c', 'write -P 0x11 0 1M', '-c', 'write -P 0x22 8M 512k', base])
    run(['qemu-img', 'snapshot', '-c', 'disk1', base])
    run(['qemu-io', '-c', 'write -P 0x33 512k 1M', base])
    sock = os.path.join(T, 'base.sock')
    out, rc, text = hmp_session(machine(base, sock), sock, ['savevm vm1'])
    if rc != 0 or out != ['']:
        raise RuntimeError('savevm vm1 on the base image: %r %r' % (out, text))
    run(['qemu-io', '-c', 'write -P 0x44 4M 256k', base])
    return base


def count_calls(base, name):
    """How many pwrite64 and fdatasync calls one savevm makes (strace counts them)."""
    work, sock, log = os.path.join(T, 'count.qcow2'), os.path.join(T, 'count.sock'), os.path.join(T, 'trace')
    shutil.copy(base, work)
    argv = ['strace', '-f', '-qq', '-o', log, '-e', 'trace=pwrite64,fdatasync'] + machine(work, sock)
    if os.path.exists(sock):
        os.unlink(sock)
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        h = Hmp(sock)
        h.sock.sendall(b'info status\n')   # everything before this reply is start-up
        h.reply()
        size0 = os.path.getsize(log)
        if h.cmd('savevm %s' % name) != '':
            raise RuntimeError('savevm %s under strace failed' % name)
        size1 = os.path.getsize(log)
        h.cmd('quit')
        p.wait(60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    with open(log) as f:
        text = f.read()
    before = text[:size0]
    during = text[size0:size1]
    counts = {}
    for call in ('pwrite64', 'fdatasync'):
        counts[call] = (len(re.findall(r'\b%s\(' % call, before)), len(re.findall(r'\b%s\(' % call, during)))
    return counts


def main():
    passed = failed = 0
    if not shutil.which('strace') or run(['strace', '-qq', '-o', '/dev/null', 'true']).returncode:
        print('strace is missing or cannot trace here (it kills pcvm at chosen calls)')
        print('0 passed, 1 failed')
        return 1
    base = make_base()
    before = snapshots(base)
    sums = {s[1]: digest(base, s[1]) for s in before}
    active = digest(base)
    for name in ('vm2', 'vm1'):   # a new snapshot, then HMP's replacement of vm1
        counts = count_calls(base, name)
        points = [(call, k) for call, (pre, n) in counts.items() for k in range(pre + 1, pre + n + 1)]
        if counts['pwrite64'][1] < 3:
            print('FAIL savevm %s: only %d pwrite64 calls seen, strace does not see the writes' %
                  (name, counts['pwrite64'][1]))
            failed += 1
            continue
        for call, k in points:
            what = 'savevm %s killed on pwrite/flush %s #%d' % (name, call, k)
            work, sock = os.path.join(T, 'w.qcow2'), os.path.join(T, 'w.sock')
            shutil.copy(base, work)
            argv = ['strace', '-f', '-qq', '-o', '/dev/null', '-e', 'trace=%s' % call,
                    '-e', 'inject=%s:signal=KILL:when=%d' % (call, k)] + machine(work, sock)
            out, rc, text = hmp_session(argv, sock, ['savevm %s' % name])
            problems = []
            if out != [None]:
                problems.append('pcvm was not killed in savevm (replies %r, status %s)' % (out, rc))
            r = run(['qemu-img', 'check', work])
            if r.returncode != 0 or 'No errors were found' not in r.stdout:
                problems.append('qemu-img check: ' + r.stdout.strip().replace('\n', ' | ')[:300])
            after = snapshots(work)
            # Replacing vm1: either the old entry, or a new vm1 in its place (at the end).
            kept = [s for s in before if s[1] != name] if after != before else before
            new = [s for s in after if s not in before]
            if after != before and not (after[:len(kept)] == kept and len(new) == 1 and new[0][1] == name
                                        and len(after) == len(kept) + 1):
                problems.append('snapshots before %r, after %r' % (before, after))
            for s in kept:
                if digest(work, s[1]) != sums[s[1]]:
                    problems.append('the disk of snapshot %s changed' % s[1])
            if digest(work) != active:
                problems.append('the active disk changed')
            # pcvm reads a VM state back: the new one, and the old one on the last kill that
            # leaves the image as before (the earlier kills write only to free clusters).
            last_before = (call, k) == next((p for p in reversed(points) if p[0] == call), None)
            for n in ([] if after == before and not last_before else ['vm1'] if after == before else [name]):
                ok, text = loads(work, n)
                if not ok:
                    problems.append('-loadvm %s failed: %s' % (n, text))
            if problems:
                failed += 1
                print('FAIL %s: %s' % (what, '; '.join(problems)))
            else:
                passed += 1
                print('PASS %s (%s)' % (what, 'as before' if after == before else 'the new snapshot is complete'))
    print('%d passed, %d failed' % (passed, failed))
    return 1 if failed else 0


if __name__ == '__main__':
    try:
        sys.exit(main())
    finally:
        shutil.rmtree(T, ignore_errors=True)
