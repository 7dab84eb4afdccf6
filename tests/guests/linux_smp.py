#!/usr/bin/env python3
"""Linux with -smp 8,sockets=1,cores=4,threads=2 and one host thread per vCPU
(-accel tcg,thread=multi): the monitor's `info cpus` shows eight distinct thread ids, none pcvm's
own; the kernel brings up the other CPUs through INIT/SIPI ("smp: Brought up 1 node, 8 CPUs"),
/proc/cpuinfo shows one package of four cores with two threads each (siblings 8, cpu cores 4,
core ids 0-3, APIC IDs 0-7); lockcount (tests/guests/lockcount.asm, typed in with base64) runs
one thread pinned to each CPU adding to shared counters with LOCK XADD, LOCK INC and LOCK
CMPXCHG8B, and no update may be lost; eight shells pinned to the eight CPUs add to one counter
file under a mkdir lock at the same time (the total must be exact) and a shell loop pinned to
CPU 1 runs there (/proc/self/stat field 39); the log is clean and poweroff -f exits 0.
On the same boot, the gdb stub: the monitor's `gdbserver` starts it, Debian's gdb attaches,
stops the kernel at vfs_write (its address from /proc/kallsyms) when the shell writes, reads
the registers there (EIP at the breakpoint, the kernel's CS, paging on) and detaches; the
shell then goes on.  Then a second, short boot with a plain `-smp 4` (QEMU 7.2's defaults: one
socket of four cores; one host thread per vCPU by default) checks /proc/cpuinfo, and that
the guest's date keeps the host's through 15 s of host stalls (SIGSTOP) while every vCPU is
busy."""
import base64
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from console import GuestFailure, main, time_scale
from linux import boot_to_shell, check_clean, power_off

NCPUS, CORES, THREADS = 8, 4, 2
SMP = ['-smp', '%d,sockets=1,cores=%d,threads=%d' % (NCPUS, CORES, THREADS), '-accel', 'tcg,thread=multi']
ADDS = 15   # per shell
HERE = os.path.dirname(os.path.abspath(__file__))


def check_topology(c, problems, ncpus, cores, threads):
    """/proc/cpuinfo of one socket with cores x threads CPUs, APIC IDs packed as QEMU does
    (threads and cores take the bits their counts need)."""
    out = c.run("grep -E '^(processor|physical id|siblings|core id|cpu cores|apicid)' /proc/cpuinfo",
                60, 'cpuinfo')
    fields = re.findall(r'^(processor|physical id|siblings|core id|cpu cores|apicid)\s*:\s*(\d+)', out, re.M)
    cpus = [tuple(v for _, v in fields[k:k + 6]) for k in range(0, len(fields), 6)]
    tbits = (threads - 1).bit_length()
    want = [(str(n), '0', str(ncpus), str(n // threads), str(cores),
             str((n // threads) << tbits | n % threads)) for n in range(ncpus)]
    if cpus != want:
        problems.append('/proc/cpuinfo topology (processor, physical id, siblings, core id, cpu cores, '
                        'apicid) %r, expected %r' % (cpus, want))


def check_thread_ids(c, problems, ncpus=NCPUS):
    """The monitor's info cpus: one host thread per vCPU."""
    c.send('\x01c')
    c.send('info cpus\n')
    c.expect(r'CPU #%d: thread_id=\d+\r?\n' % (ncpus - 1), 30, 'the info cpus reply')
    c.send('\x01c')
    time.sleep(1)   # typed right behind the switch, the next command reached the monitor once
    ids = re.findall(r'CPU #(\d+): thread_id=(\d+)', c.text())[-ncpus:]
    tids = [int(t) for _, t in ids]
    if len(set(tids)) != ncpus or c.proc.pid in tids:
        problems.append('info cpus: %r for pcvm pid %d, expected %d distinct vCPU thread ids' %
                        (ids, c.proc.pid, ncpus))


def check_lockcount(c, problems):
    """lockcount: one thread per CPU, LOCK XADD / INC / CMPXCHG8B, exact totals."""
    work = tempfile.mkdtemp()
    try:
        obj, exe = os.path.join(work, 'lc.o'), os.path.join(work, 'lockcount')
        for cmd in (['nasm', '-I', os.path.join(HERE, '..', 'cpu', 'sys', ''), '-f', 'elf32', '-o', obj,
                     os.path.join(HERE, 'lockcount.asm')],
                    ['ld', '-m', 'elf_i386', '-N', '-s', '--no-warn-rwx-segments', '-o', exe, obj]):
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if r.returncode != 0:
                problems.append('%s failed: %s' % (cmd[0], r.stdout.strip()[-300:]))
                return
        data = base64.b64encode(open(exe, 'rb').read()).decode()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    c.run('rm -f /tmp/lc.b64', 30, 'rm')
    for k in range(0, len(data), 256):
        c.run('echo %s >> /tmp/lc.b64' % data[k:k + 256], 30, 'the lockcount upload')
    out = c.run('base64 -d /tmp/lc.b64 > /tmp/lockcount && chmod +x /tmp/lockcount && /tmp/lockcount',
                600, 'lockcount')
    m = re.search(r'lockcount cpus=(\d+) xadd=(\d+) inc=(\d+) cmpxchg8b=(\d+):(\d+) expect=(\d+)', out)
    if not m:
        problems.append('lockcount printed %r' % out.strip()[-300:])
        return
    cpus, xadd, inc, hi, lo, expect = (int(v) for v in m.groups())
    if cpus != NCPUS or xadd != expect or inc != expect or hi != 0 or lo != expect:
        problems.append('lockcount lost updates: %s' % m.group(0))


def check_concurrent_counter(c, problems):
    """A shell on each CPU increments one file at the same time, under a lock made of
    mkdir (atomic in the kernel): no update may be lost."""
    out = c.run("echo 0 > /tmp/n; for cpu in %s; do taskset -c $cpu sh -c "
                "'i=0; while [ $i -lt %d ]; do until mkdir /tmp/L 2>/dev/null; do :; done; "
                "echo $(($(cat /tmp/n) + 1)) > /tmp/n; rmdir /tmp/L; i=$((i+1)); done' & done; "
                "wait; echo total=$(cat /tmp/n)" % (' '.join(str(n) for n in range(NCPUS)), ADDS), 600, 'counter')
    m = re.search(r'total=(\d+)', out)
    if not m or int(m.group(1)) != NCPUS * ADDS:
        problems.append('%d shells adding %d each under a lock got %s' % (NCPUS, ADDS, m.group(1) if m else out[-200:]))


def test(log_path, consoles):
    c = boot_to_shell(log_path, consoles, SMP, append='console=ttyS0 loglevel=7')
    problems = []
    if not re.search(r'smp: Brought up 1 node, %d CPUs' % NCPUS, c.text()):
        m = re.search(r'smp: Brought up .*', c.text())
        problems.append('the kernel did not bring up %d CPUs (%s)' %
                        (NCPUS, m.group(0) if m else 'no "smp: Brought up" line'))
    check_thread_ids(c, problems)
    check_topology(c, problems, NCPUS, CORES, THREADS)
    check_lockcount(c, problems)
    check_concurrent_counter(c, problems)
    out = c.run("taskset -c 1 sh -c 'i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; "
                "echo loop=$i cpu=$(cut -d\" \" -f39 /proc/self/stat)'", 300, 'taskset')
    if not re.search(r'loop=2000 cpu=1\b', out):
        problems.append('a loop pinned to CPU 1 printed %r' % out.strip())
    try:
        gdb_kernel_break(c)
    except GuestFailure as e:
        problems.append(str(e))
    dmesg = c.run('dmesg', 120, 'dmesg')
    for check in (lambda: check_clean(dmesg, 'the kernel log (dmesg)'), lambda: power_off(c),
                  lambda: check_clean(c.text(), 'the console log')):
        try:
            check()
        except GuestFailure as e:
            problems.append(str(e))
    plain_smp4(log_path, consoles, problems)
    if problems:
        raise GuestFailure('; '.join(problems))


def plain_smp4(log_path, consoles, problems):
    """A second, short boot with a plain `-smp 4` and no -accel: QEMU 7.2's pc machine makes
    that one socket of four cores (cores are preferred over sockets since 6.2), so /proc/cpuinfo
    shows processors 0-3 with siblings 4 and cpu cores 4; the default runs one host thread
    per vCPU.  The guest's date keeps the host's through host stalls while it is busy
    (check_date_after_stalls)."""
    c = boot_to_shell(log_path.replace('.log', '-smp4.log'), consoles, ['-smp', '4'])
    if not re.search(r'smp: Brought up 1 node, 4 CPUs', c.text()):
        problems.append('-smp 4: the kernel did not bring up 4 CPUs')
    check_thread_ids(c, problems, 4)
    check_topology(c, problems, 4, 4, 1)
    check_date_after_stalls(c, problems)
    for check in (lambda: power_off(c), lambda: check_clean(c.text(), 'the -smp 4 console log')):
        try:
            check()
        except GuestFailure as e:
            problems.append('-smp 4: %s' % e)


def guest_date_offset(c, tag):
    """The guest's date +%s minus the host's time, in seconds (1 s resolution)."""
    out = c.run('date +%s', 120, tag)
    dates = [l.strip() for l in out.split('\n') if l.strip().isdigit()]
    if not dates:
        raise GuestFailure('date +%%s printed %r' % out.strip()[-200:])
    return int(dates[-1]) - time.time()


def check_date_after_stalls(c, problems, stall_s=15, stop_s=0.05, run_s=0.005):
    """Host stalls while every vCPU is busy (pcvm SIGSTOPped 50 ms out of every 55 ms for
    stall_s): the virtual clock holds back the time a stall would make it jump, and must hand
    it back while the guest stays busy (Linux, its local APIC timer one-shot, has no periodic
    tick to lose), so right after the stalls the guest's date is where it was against the
    host's.  It fell 8-13 s behind at -smp 2 when the multi-thread loop handed back only
    2.5 ms per round."""
    start = len(c.text())
    c.run("P=; for cpu in 0 1 2 3; do taskset -c $cpu sh -c 'while :; do :; done' & P=\"$P $!\"; done",
          60, 'the busy loops')
    try:
        before = guest_date_offset(c, 'date-before')
        end = time.monotonic() + stall_s
        try:
            while time.monotonic() < end:
                os.kill(c.proc.pid, signal.SIGSTOP)
                time.sleep(stop_s)
                os.kill(c.proc.pid, signal.SIGCONT)
                time.sleep(run_s)
        finally:
            os.kill(c.proc.pid, signal.SIGCONT)
        after = guest_date_offset(c, 'date-after')
    finally:
        c.run('kill $P; wait', 120, 'the end of the busy loops')
    bad = re.findall(r'^.*(?:unstable|soft lockup|rcu.*stall).*$', c.text(start), re.M | re.I)
    if bad:
        problems.append('-smp 4: after host stalls the kernel said: %s' % ' | '.join(l.strip() for l in bad[:3]))
    if after - before < -3:
        problems.append('-smp 4: the guest date fell %.1f s behind the host over %d s of host stalls '
                        'while busy (before %.1f s, after %.1f s)' % (before - after, stall_s, before, after))


GDB_PORT = 46110


def gdb_kernel_break(c):
    """Break inside the running kernel with gdb through a stub started from the monitor."""
    if not shutil.which('gdb'):
        raise GuestFailure('gdb is not installed (make deps installs it)')
    out = c.run('grep -w vfs_write /proc/kallsyms', 60, 'kallsyms')
    m = re.search(r'^([0-9a-f]{8}) [Tt] vfs_write$', out, re.M)
    if not m or int(m.group(1), 16) == 0:
        raise GuestFailure('no address for vfs_write in /proc/kallsyms: %r' % out.strip()[-200:])
    addr = int(m.group(1), 16)
    c.send('\x01c')
    c.send('gdbserver tcp::%d\n' % GDB_PORT)
    c.expect(r"Waiting for gdb connection on device 'tcp::%d'" % GDB_PORT, 30, 'the gdbserver reply')
    c.send('\x01c')
    work = tempfile.mkdtemp()
    try:
        script = os.path.join(work, 'kernel.gdb')
        with open(script, 'w') as f:
            f.write('set pagination off\nset confirm off\n'
                    'target remote localhost:%d\n'
                    'info threads\n'
                    'hbreak *0x%08x\n'
                    'continue\n'
                    'info registers\n'
                    'x/2i $pc\n'
                    'delete\n'
                    'detach\n' % (GDB_PORT, addr))
        log = open(os.path.join(work, 'gdb.txt'), 'w+')
        gdb = subprocess.Popen(['gdb', '-nx', '-batch', '-x', script], stdout=log,
                               stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60 * time_scale()
            while 'Hardware assisted breakpoint 1' not in open(log.name).read():
                if gdb.poll() is not None or time.monotonic() > deadline:
                    raise GuestFailure('gdb did not set the breakpoint: %s' % open(log.name).read()[-400:])
                time.sleep(0.2)
            time.sleep(1)                       # gdb sends continue
            c.send('echo gdb-was-here\n')       # the shell writes: vfs_write
            gdb.wait(120 * time_scale())
        except subprocess.TimeoutExpired:
            gdb.kill()
            gdb.wait()
            raise GuestFailure('gdb did not finish: %s' % open(log.name).read()[-400:])
        text = open(log.name).read()
        want = [(r'Thread 1 \(CPU#0 \[(running|halted)\]\)', 'thread 1 = CPU#0'),
                (r'Thread 4 \(CPU#3 \[(running|halted)\]\)', 'thread 4 = CPU#3'),
                (r'hit Breakpoint 1, 0x%08x in' % addr, 'the stop at vfs_write'),
                (r'^eip +0x%x ' % addr, 'EIP at vfs_write'),
                (r'^cs +0x60 ', 'the kernel code segment 0x60'),
                (r'^cr0 +0x8[0-9a-f]{7} ', 'CR0.PG set'),
                (r'^=> 0x%08x:' % addr, 'the disassembly at the breakpoint'),
                (r'\[Inferior 1 \(Remote target\) detached\]', 'the detach')]
        missing = [what for rx, what in want if not re.search(rx, text, re.M)]
        if missing:
            raise GuestFailure('gdb in the Linux guest: missing %s; gdb said: %s' %
                               (', '.join(missing), text[-1500:]))
        c.expect(r'\ngdb-was-here', 60, 'the shell going on after detach')
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main(test)
