#!/usr/bin/env python3
"""pcvm and qemu-system-i386 side by side on the same guest work; see bench/README.md.

    bench/bench.py [--profile SECONDS]

Called by bench/run.sh, which prepares the inputs and passes them through the environment:
  BENCH_PCVM, BENCH_QEMU      the two emulator binaries
  BENCH_KERNEL, BENCH_INITRD  Linux 686 bzImage and the benchmark initramfs (bench/make-initramfs.py)
  BENCH_EXIT_KERNEL           bench/kernels/exit.asm, assembled
  BENCH_LOOP_KERNEL           bench/kernels/loop.asm, assembled with ITERATIONS=BENCH_LOOP_ITERS
  BENCH_LOOP_ITERS, BENCH_LOOP_INSNS   passes of the loop and instructions per pass
  BENCH_RUNS (5), BENCH_QUICK (1 = one run of everything), BENCH_TIMEOUT (600 s per Linux run)
  BENCH_OUT                   directory for the JSON / text results (bench/results)
  BENCH_DISK_INITRD           the initramfs with the IDE/SCSI modules and the /b/ disk scripts
  BENCH_DISK_RAW, BENCH_DISK_QCOW2   empty scratch images (256 MiB); each disk run gets a copy
  BENCH_ONLY                  "disk": only the disk rows; "nodisk": everything but them
Runs alternate between the emulators (pcvm, QEMU, pcvm, QEMU ...).  A run that times out or
fails is kept in the JSON with its error and left out of the medians; the table says how many
runs each median is made of.
"""
import datetime
import json
import os
import re
import select
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CLK_TCK = os.sysconf('SC_CLK_TCK')
GUEST_RAM_MB = 256

# The same machine for both: no NIC, no VGA, no monitor, serial on stdio, TCG only.
COMMON = ['-accel', 'tcg', '-m', str(GUEST_RAM_MB), '-cpu', 'pentium3', '-nodefaults',
          '-nic', 'none', '-display', 'none', '-serial', 'stdio', '-monitor', 'none',
          '-no-reboot']
DEBUG_EXIT = ['-device', 'isa-debug-exit,iobase=0xf4,iosize=4']
APPEND = 'console=ttyS0 panic=1'
GUEST_WORK = ['loop', 'cat', 'prep', 'sha', 'gz']
IDLE_SECONDS = 10.0
IDLE_SETTLE_SECONDS = 4.0
# Disk work in the guest (/dev/sda, the first IDE disk): bytes moved or operations per script.
DISK_WORK = ['seqw', 'seqr', 'rndw', 'rndr', 'nul']
DISK_SEQ_MB = 64
DISK_SEQR_PASSES = 4     # /b/seqr reads the 64 MiB of /b/seqw this many times (O_DIRECT)
DISK_RND_OPS = 500
DISK_FORMATS = ['raw', 'qcow2']
DISK_CACHE = os.environ.get('BENCH_DISK_CACHE', 'writeback')   # the -drive cache= mode of both
RND_LIMIT_S = 180.0   # wall-clock limit of the /dev/urandom probe


class Timeout(Exception):
    pass


class Guest:
    """One emulator process with its serial console on pipes; every byte goes to a log."""

    def __init__(self, argv, log_path):
        self.log = open(log_path, 'wb')
        self.log.write(('$ ' + ' '.join(argv) + '\n').encode())
        self.log.flush()
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, bufsize=0)
        self.buf = b''
        self.pos = 0          # everything before pos has been matched already
        self.eof = False

    def elapsed(self):
        return time.monotonic() - self.t0

    def _read(self, deadline):
        """Read what is available; False once the deadline has passed or at EOF."""
        left = deadline - time.monotonic()
        if left <= 0 or self.eof:
            return False
        r, _, _ = select.select([self.proc.stdout], [], [], min(left, 0.5))
        if r:
            data = os.read(self.proc.stdout.fileno(), 65536)
            if not data:
                self.eof = True
                return False
            self.buf += data
            self.log.write(data)
            self.log.flush()
        return True

    def expect(self, pattern, deadline, what):
        """Wait for a regex after the last match; returns (match, seconds since start)."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        while True:
            m = rx.search(self.buf, self.pos)
            if m:
                self.pos = m.end()
                return m, self.elapsed()
            if not self._read(deadline):
                if self.eof:
                    raise Timeout('%s: the emulator closed its console (exit %s)'
                                  % (what, self.proc.poll()))
                raise Timeout('%s: timed out after %.0f s' % (what, self.elapsed()))

    def send(self, text):
        self.proc.stdin.write(text.encode())
        self.proc.stdin.flush()

    def _reap(self):
        """Collect the exit status with the child's resource usage (CPU time, peak RSS)."""
        if self.proc.returncode is not None:
            return True
        pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.rusage = usage
        self.exit_time = self.elapsed()
        return True

    def wait_exit(self, deadline):
        """Drain the console until the process ends; returns (status, seconds since start)."""
        while not self._reap():
            if self.eof:
                if time.monotonic() >= deadline:
                    raise Timeout('exit: still running after %.0f s' % self.elapsed())
                time.sleep(0.001)
            elif not self._read(deadline) and not self.eof:
                raise Timeout('exit: still running after %.0f s' % self.elapsed())
        return self.proc.returncode, self.exit_time

    def usage(self, res):
        """Add the finished process's CPU time (from wait4) to a result.  (Its ru_maxrss is
        not used: it also counts the driver's memory between fork and exec.)"""
        u = getattr(self, 'rusage', None)
        if u:
            res['process_cpu_s'] = round(u.ru_utime + u.ru_stime, 4)

    def cpu_seconds(self):
        """utime + stime of the whole process (all threads)."""
        with open('/proc/%d/stat' % self.proc.pid) as fh:
            fields = fh.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK

    def status_kb(self, key):
        with open('/proc/%d/status' % self.proc.pid) as fh:
            for line in fh:
                if line.startswith(key + ':'):
                    return int(line.split()[1])
        return None

    def close(self):
        if not self._reap():
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def power_off(g, res, deadline):
    """Power the guest off from its shell and record how it ended (the run's last stage)."""
    g.send('poweroff -f\n')
    status, t = g.wait_exit(min(deadline, time.monotonic() + 60))
    res['exit_status'] = status
    res['total_wall_s'] = round(t, 2)
    g.usage(res)
    res['ok'] = True


def guest_clocksource(g):
    """The clocksource the guest's own timings came from (its last switch), or None."""
    sources = re.findall(rb'Switched to clocksource (\S+)', g.buf)
    return sources[-1].decode() if sources else None


def linux_run(emu, binary, env, log_path, timeout):
    """Boot to BOOT-OK, run the guest work, sit idle, read the peak RSS, power off."""
    res = {'emulator': emu, 'kind': 'linux', 'ok': False}
    argv = [binary] + COMMON + ['-kernel', env['BENCH_KERNEL'], '-initrd', env['BENCH_INITRD'],
                                '-append', APPEND]
    g = Guest(argv, log_path)
    deadline = g.t0 + timeout
    stage = 'boot'
    try:
        # The banner comes once the kernel has been decompressed and starts up.
        _, t = g.expect(r'Linux version ', deadline, 'the kernel banner')
        res['banner_wall_s'] = round(t, 3)
        res['banner_cpu_s'] = round(g.cpu_seconds(), 2)
        m, t = g.expect(r'BOOT-OK uptime=([0-9.]+)\s', deadline, 'BOOT-OK')
        res['boot_wall_s'] = round(t, 3)
        res['boot_guest_uptime_s'] = float(m.group(1))
        res['boot_cpu_s'] = round(g.cpu_seconds(), 2)
        g.expect(r'bench# ', deadline, 'the first prompt')
        for name in GUEST_WORK:
            stage = name
            sent, cpu = g.elapsed(), g.cpu_seconds()
            g.send('/b/%s\n' % name)
            m, t = g.expect(r'@@%s ([0-9.]+) ([0-9.]+)@@' % name, deadline, name)
            res[name + '_guest_s'] = round(float(m.group(2)) - float(m.group(1)), 3)
            res[name + '_host_s'] = round(t - sent, 3)
            res[name + '_cpu_s'] = round(g.cpu_seconds() - cpu, 2)
            g.expect(r'bench# ', deadline, 'the prompt after ' + name)
        stage = 'idle'
        # Steady-state idle: let the last command's output settle (and pcvm's idle coalescing,
        # which starts after 2 s of quiet, take over), then measure the process's CPU time.
        time.sleep(IDLE_SETTLE_SECONDS)
        c0, w0 = g.cpu_seconds(), time.monotonic()
        time.sleep(IDLE_SECONDS)
        c1, w1 = g.cpu_seconds(), time.monotonic()
        res['idle_cpu_s'] = round(c1 - c0, 3)
        res['idle_wall_s'] = round(w1 - w0, 3)
        res['idle_core_pct'] = round(100.0 * (c1 - c0) / (w1 - w0), 2)
        stage = 'rss'
        res['peak_rss_mb'] = round(g.status_kb('VmHWM') / 1024.0, 1)
        res['rss_mb'] = round(g.status_kb('VmRSS') / 1024.0, 1)
        res['total_cpu_s'] = round(g.cpu_seconds(), 2)
        # Last, so that a stall cannot cost the figures above: the first read of /dev/urandom
        # waits until Linux has seeded its CRNG from timer jitter.
        stage = 'rnd'
        sent = g.elapsed()
        g.send('/b/rnd\n')
        try:
            m, t = g.expect(r'@@rnd ([0-9.]+) ([0-9.]+) ([0-9]+)@@',
                            min(deadline, time.monotonic() + RND_LIMIT_S), 'rnd')
            res['rnd_guest_s'] = round(float(m.group(2)) - float(m.group(1)), 3)
            res['rnd_host_s'] = round(t - sent, 3)
            res['rnd_status'] = int(m.group(3))  # 0, or 143 if timeout(1) gave up after 60 s
            g.expect(r'bench# ', deadline, 'the prompt after rnd')
        except Timeout as e:
            res['rnd_error'] = str(e)
            res['ok'] = True
            return res  # the guest is stuck: finally: kills it
        stage = 'poweroff'
        power_off(g, res, deadline)
    except Timeout as e:
        res['error'] = str(e)
        res['failed_stage'] = stage
    finally:
        # Which clock the guest's own timings came from, and whether Linux distrusted one.
        res['guest_clocksource'] = guest_clocksource(g)
        res['guest_tsc_unstable'] = b'Marking TSC unstable' in g.buf
        res['guest_pmtimer_rejected'] = b'PM-Timer running at invalid rate' in g.buf
        g.close()
    return res


def disk_run(emu, binary, env, fmt, log_path, timeout):
    """Boot with a fresh copy of the empty scratch image on IDE, load the drivers, then dd:
    sequential write and read, random 4 KiB writes and reads, and the loop's own cost."""
    res = {'emulator': emu, 'kind': 'disk-' + fmt, 'ok': False, 'format': fmt,
           'cache': DISK_CACHE}
    img = log_path[:-4] + '.' + fmt
    # A fresh copy per run: neither emulator inherits the other's (or a previous run's) clusters.
    # cp keeps the holes: a raw copy stays as sparse as the image qemu-img made.
    subprocess.run(['cp', '--sparse=always', env['BENCH_DISK_' + fmt.upper()], img], check=True)
    argv = [binary] + COMMON + ['-kernel', env['BENCH_KERNEL'], '-initrd', env['BENCH_DISK_INITRD'],
                                '-append', APPEND, '-drive',
                                'file=%s,format=%s,if=ide,cache=%s' % (img, fmt, DISK_CACHE)]
    g = Guest(argv, log_path)
    deadline = g.t0 + timeout
    stage = 'boot'
    try:
        m, t = g.expect(r'BOOT-OK uptime=([0-9.]+)\s', deadline, 'BOOT-OK')
        res['boot_wall_s'] = round(t, 3)
        g.expect(r'bench# ', deadline, 'the first prompt')
        stage = 'dset'
        sent = g.elapsed()
        g.send('/b/dset\n')
        m, t = g.expect(r'@@dset ([0-9.]+) ([0-9.]+) ([0-9]+)@@', deadline, 'dset')
        res['dset_guest_s'] = round(float(m.group(2)) - float(m.group(1)), 3)
        res['dset_host_s'] = round(t - sent, 3)
        if m.group(3) != b'0':
            raise Timeout('dset: no /dev/sda after loading the modules')
        g.expect(r'bench# ', deadline, 'the prompt after dset')
        for name in DISK_WORK:
            stage = name
            sent, cpu = g.elapsed(), g.cpu_seconds()
            g.send('/b/%s\n' % name)
            m, t = g.expect(r'@@%s ([0-9.]+) ([0-9.]+)@@' % name, deadline, name)
            gs = float(m.group(2)) - float(m.group(1))
            hs = t - sent
            res[name + '_guest_s'] = round(gs, 3)
            res[name + '_host_s'] = round(hs, 3)
            res[name + '_cpu_s'] = round(g.cpu_seconds() - cpu, 2)
            amount = {'seqw': DISK_SEQ_MB, 'seqr': DISK_SEQ_MB * DISK_SEQR_PASSES}.get(
                name, DISK_RND_OPS)
            rate = 'mbps' if name.startswith('seq') else 'iops'
            if gs > 0:
                res['%s_%s' % (name, rate)] = round(amount / gs, 1)
            if hs > 0:
                res['%s_host_%s' % (name, rate)] = round(amount / hs, 1)
            g.expect(r'bench# ', deadline, 'the prompt after ' + name)
        stage = 'poweroff'
        power_off(g, res, deadline)
    except Timeout as e:
        res['error'] = str(e)
        res['failed_stage'] = stage
    finally:
        res['guest_clocksource'] = guest_clocksource(g)
        res['ata_errors'] = len(re.findall(rb'ata[0-9.]+: (?:exception|failed command|SError)', g.buf))
        g.close()
        try:
            os.unlink(img)
        except OSError:
            pass
    return res


def kernel_run(emu, binary, kernel, kind, log_path, timeout, argv=None):
    """A Multiboot probe kernel: time to its first output byte and to the process's exit."""
    res = {'emulator': emu, 'kind': kind, 'ok': False}
    g = Guest(argv or [binary] + COMMON + DEBUG_EXIT + ['-kernel', kernel], log_path)
    deadline = g.t0 + timeout
    try:
        _, t = g.expect(r'!', deadline, 'the first guest output')
        res['first_output_s'] = round(t, 6)
        status, t = g.wait_exit(deadline)
        res['exit_s'] = round(t, 6)
        res['exit_status'] = status
        g.usage(res)
        # isa-debug-exit turns the value v written into the status (v << 1) | 1.
        res['ok'] = status == (0 if argv else 1)
        if not res['ok']:
            res['error'] = 'exit status %d, expected 1 (isa-debug-exit with 0)' % status
    except Timeout as e:
        res['error'] = str(e)
    finally:
        g.close()
    return res


def median(values):
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, unit):
    if v is None:
        return 'n/a'
    if unit == 'ms':
        return '%.1f ms' % v
    if unit == '%':
        return '%.2f %%' % v
    if unit == 'MB':
        return '%.0f MB' % v
    if unit == 'MIPS':
        return '%.0f MIPS' % v
    if unit == 'MB/s':
        return '%.1f MB/s' % v
    if unit == 'IOPS':
        return '%.0f IOPS' % v
    return '%.2f s' % v


# (key, label, unit, target kind, host CPU time key); "ratio2": pcvm/QEMU at most 2.0.
# The CPU columns (utime + stime of the emulator over the same span) matter on a loaded host,
# where wall and guest time include the time the emulator waited for a core.
METRICS = [
    ('boot_wall_s', '1. Linux boot to BOOT-OK (wall)', 's', 'ratio2', 'boot_cpu_s'),
    ('boot_guest_uptime_s', '1. guest uptime at BOOT-OK', 's', 'ratio2', None),
    ('banner_wall_s', '1. of which: start to the kernel banner', 's', 'none', 'banner_cpu_s'),
    ('loop_guest_s', '2. shell loop, 10,000 iterations', 's', 'ratio2', 'loop_cpu_s'),
    ('cat_guest_s', '2. 100 x cat /etc/passwd', 's', 'ratio2', 'cat_cpu_s'),
    ('sha_guest_s', '3. sha256sum 4 MiB', 's', 'ratio2', 'sha_cpu_s'),
    ('gz_guest_s', '3. gzip -c 4 MiB', 's', 'ratio2', 'gz_cpu_s'),
    ('rnd_guest_s', '(first /dev/urandom read: CRNG seeding)', 's', 'none', None),
    ('mips', '4. MIPS, integer loop (higher is better)', 'MIPS', 'none', None),
    ('mips_per_cpu_s', '4. MIPS per host CPU second (higher is better)', 'MIPS', 'none', None),
    ('idle_core_pct', '5. idle at the shell, host CPU', '%', 'idle', None),
    ('peak_rss_mb', '6. peak RSS, -m 256', 'MB', 'rss', None),
    ('first_output_ms', '7. start-up to first guest instruction', 'ms', 'startup', None),
    ('exit_ms', '7. start-up to exit, exiting kernel', 'ms', 'startup', None),
]
# Disk rows (8.): rates, higher is better, so pcvm/QEMU of the rate = QEMU time / pcvm time;
# the "wall ratio" is the same ratio of rates timed from the host.  The CPU columns stay
# seconds of emulator CPU (lower is better).  DISK_SOURCES: key -> (run kind, rate, script).
DISK_LABELS = {
    'seqw': ('sequential write 64 MiB, dd bs=1M conv=fsync', 'mbps', 'MB/s'),
    'seqr': ('sequential read 4 x 64 MiB, dd bs=1M iflag=direct', 'mbps', 'MB/s'),
    'rndw': ('random write 4 KiB x 500, dd oflag=direct', 'iops', 'IOPS'),
    'rndr': ('random read 4 KiB x 500, dd iflag=direct', 'iops', 'IOPS'),
    'nul': ('the same loop /dev/zero->/dev/null (no disk)', 'iops', 'IOPS'),
}
DISK_SOURCES = {}
for _fmt in DISK_FORMATS:
    for _name in DISK_WORK:
        _label, _rate, _unit = DISK_LABELS[_name]
        if _name == 'nul' and _fmt != DISK_FORMATS[0]:
            continue  # no disk involved: once is enough
        _key = 'disk_%s_%s_%s' % (_fmt, _name, _rate)
        METRICS.append((_key, '8. %s%s (higher is better)' % (
            '' if _name == 'nul' else _fmt + ': ', _label), _unit, 'none',
            'disk_%s_%s_cpu_s' % (_fmt, _name)))
        DISK_SOURCES[_key] = ('disk-' + _fmt, _name, _rate)


def summarize(runs):
    """Median per metric and emulator, with the number of successful runs behind it."""
    def values(emu, kind, key, scale=1.0):
        return [r[key] * scale for r in runs
                if r['emulator'] == emu and r['kind'] == kind and r.get('ok') and key in r]

    out = {}
    for emu in ('pcvm', 'qemu'):
        s = {}
        for key, _, _, _, cpu_key in METRICS:
            if key in DISK_SOURCES:
                kind, name, rate = DISK_SOURCES[key]
                for k, src in ((key, '%s_%s' % (name, rate)),
                               (key + '_host', '%s_host_%s' % (name, rate)),
                               (cpu_key, name + '_cpu_s'),
                               ('disk_%s_%s_guest_s' % (kind[5:], name), name + '_guest_s'),
                               ('disk_%s_%s_host_s' % (kind[5:], name), name + '_host_s')):
                    vals = values(emu, kind, src)
                    s[k] = {'median': median(vals), 'n': len(vals)}
                continue
            if cpu_key:
                vals = values(emu, 'linux', cpu_key)
                s[cpu_key] = {'median': median(vals), 'n': len(vals)}
            if key in ('mips', 'mips_per_cpu_s'):
                vals = values(emu, 'mips', key)
            elif key == 'first_output_ms':
                vals = values(emu, 'startup', 'first_output_s', 1000.0)
            elif key == 'exit_ms':
                vals = values(emu, 'startup', 'exit_s', 1000.0)
            else:
                vals = values(emu, 'linux', key)
            s[key] = {'median': median(vals), 'n': len(vals)}
        # Cross-checks kept in the JSON: the same work timed from the host side.
        for key in (['%s_host_s' % w for w in GUEST_WORK] + ['%s_cpu_s' % w for w in GUEST_WORK] + ['prep_guest_s', 'rss_mb', 'rnd_host_s',
                                                             'total_cpu_s', 'total_wall_s']):
            vals = values(emu, 'linux', key)
            s[key] = {'median': median(vals), 'n': len(vals)}
        s['linux_runs'] = len([r for r in runs if r['emulator'] == emu and r['kind'] == 'linux'])
        s['linux_failed'] = [r.get('error') for r in runs
                             if r['emulator'] == emu and r['kind'] == 'linux' and not r.get('ok')]
        out[emu] = s
    return out


def target_text(kind, p, ratio):
    """Target wording and whether pcvm meets it (None when it cannot be judged)."""
    if kind == 'ratio2':
        return '<= 2.0x QEMU', (ratio <= 2.0) if ratio is not None else None
    if kind == 'idle':
        return '< 1 % of a core', (p < 1.0) if p is not None else None
    if kind == 'rss':
        return '<= %d MB' % (GUEST_RAM_MB + 30), (p <= GUEST_RAM_MB + 30) if p is not None else None
    if kind == 'startup':
        return '< 20 ms', (p < 20.0) if p is not None else None
    return '-', None


def table(summary, runs_per_emu):
    rows = [('metric', 'pcvm', 'QEMU', 'pcvm/QEMU', 'wall ratio', 'CPU s pcvm', 'CPU s QEMU',
             'CPU ratio', 'target', 'met')]
    for key, label, unit, kind, cpu_key in METRICS:
        p = summary['pcvm'][key]['median']
        q = summary['qemu'][key]['median']
        ratio = p / q if p is not None and q else None
        # Guest-timed rows: the same span timed by the host, which no guest clock can skew.
        wall_key = key.replace('_guest_s', '_host_s') if key.endswith('_guest_s') else None
        if key in DISK_SOURCES:
            wall_key = key + '_host'
        pn, qn = summary['pcvm'][key]['n'], summary['qemu'][key]['n']
        if pn == 0 and qn == 0 and runs_per_emu[key] == 0:
            continue  # not run at all (BENCH_ONLY)
        wp = summary['pcvm'][wall_key]['median'] if wall_key in summary['pcvm'] else None
        wq = summary['qemu'][wall_key]['median'] if wall_key in summary['qemu'] else None
        wall = wp / wq if wp is not None and wq else None
        if key == 'boot_wall_s':
            wall = ratio
        # Judge on the worse of the two, so a slow guest clock cannot flatter pcvm.
        judged = max(x for x in (ratio, wall) if x is not None) if (ratio or wall) else None
        tgt, met = target_text(kind, p, judged)
        ps = fmt(p, unit) + ('' if pn == runs_per_emu[key] else ' (%d/%d)' % (pn, runs_per_emu[key]))
        qs = fmt(q, unit) + ('' if qn == runs_per_emu[key] else ' (%d/%d)' % (qn, runs_per_emu[key]))
        cp = summary['pcvm'][cpu_key]['median'] if cpu_key else None
        cq = summary['qemu'][cpu_key]['median'] if cpu_key else None
        cr = cp / cq if cp is not None and cq else None
        rows.append((label, ps, qs, '%.2f' % ratio if ratio is not None else 'n/a',
                     '%.2f' % wall if wall is not None else '',
                     '%.2f' % cp if cp is not None else '', '%.2f' % cq if cq is not None else '',
                     '%.2f' % cr if cr is not None else '', tgt,
                     {True: 'yes', False: 'no', None: '-'}[met]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for i, r in enumerate(rows):
        lines.append('| ' + ' | '.join(c.ljust(w) for c, w in zip(r, widths)) + ' |')
        if i == 0:
            lines.append('|' + '|'.join('-' * (w + 2) for w in widths) + '|')
    return '\n'.join(lines)


def machine_info():
    model, cores = None, os.cpu_count()
    try:
        with open('/proc/cpuinfo') as fh:
            for line in fh:
                if line.startswith('model name'):
                    model = line.split(':', 1)[1].strip()
                    break
    except OSError:
        pass
    info = {'cpu_model': model, 'cores': cores, 'loadavg_at_start': os.getloadavg()}
    try:
        with open('/proc/meminfo') as fh:
            info['mem_total_kb'] = int(fh.readline().split()[1])
    except OSError:
        pass
    return info


def git(*args):
    try:
        return subprocess.run(['git', '-C', ROOT] + list(args), capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def version(binary):
    try:
        out = subprocess.run([binary, '-version'], capture_output=True, text=True, timeout=10)
        return (out.stdout.strip().splitlines() or [''])[0]
    except (OSError, subprocess.TimeoutExpired):
        return None


def say(msg):
    print('bench: ' + msg, flush=True)


def profile(env, seconds, out_dir):
    """perf record pcvm booting Linux to BOOT-OK (at most SECONDS); the 15 hottest functions."""
    tmp = os.path.join(out_dir, 'tmp')
    os.makedirs(tmp, exist_ok=True)
    data = os.path.join(tmp, 'perf.data')
    argv = [env['BENCH_PCVM']] + COMMON + ['-kernel', env['BENCH_KERNEL'], '-initrd',
                                           env['BENCH_INITRD'], '-append', APPEND]
    g = Guest(argv, os.path.join(tmp, 'profile-console.log'))
    reached = None
    try:
        # Sample from the start until BOOT-OK or the time limit, whichever comes first.
        rec = subprocess.Popen(['perf', 'record', '-F', '999', '-o', data, '-p', str(g.proc.pid)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            g.expect(r'BOOT-OK', g.t0 + seconds, 'BOOT-OK')
            reached = 'BOOT-OK after %.0f s' % g.elapsed()
        except Timeout:
            reached = '%s after %.0f s' % (
                'the kernel banner' if b'Linux version' in g.buf else 'no console output',
                g.elapsed())
        cpu = g.cpu_seconds()
        reached += ' (%.1f s of host CPU)' % cpu
        rec.send_signal(signal.SIGINT)
        err = rec.communicate(timeout=120)[1].decode(errors='replace')
    finally:
        g.close()
    if rec.returncode not in (0, None) and not os.path.exists(data):
        raise RuntimeError('perf record failed: ' + err.strip())
    rep = subprocess.run(['perf', 'report', '-i', data, '--stdio', '--no-children',
                          '--sort', 'symbol', '--percent-limit', '0.3'],
                         capture_output=True, text=True)
    rows = []
    for line in rep.stdout.splitlines():
        m = re.match(r'\s*([0-9.]+)%\s+\[(.)\]\s+(\S+)', line)
        if m:
            rows.append((float(m.group(1)), m.group(2), m.group(3)))
    commit = (env.get('BENCH_COMMIT') or git('rev-parse', 'HEAD') or 'unknown')[:7]
    dirty = (env['BENCH_DIRTY'] == '1' if 'BENCH_DIRTY' in env
             else bool(git('status', '--porcelain', '--', 'src')))
    lines = ['pcvm profile: perf record -F 999 of a Linux 6.1 686 boot (-m 256 -cpu pentium3) '
             'up to BOOT-OK or %d s, %s' % (seconds,
                                            datetime.datetime.utcnow().strftime('%Y-%m-%d %H:%M UTC')),
             'commit %s%s; the guest reached: %s' % (
                 commit, ' (with uncommitted changes)' if dirty else '', reached),
             'share of samples, self time, per function ([k] = host kernel):', '']
    for i, (pct, where, sym) in enumerate(rows[:15], 1):
        lines.append('%2d. %6.2f%%  %s%s' % (i, pct, sym, '  [k]' if where == 'k' else ''))
    text = '\n'.join(lines) + '\n'
    with open(os.path.join(out_dir, 'profile-latest.txt'), 'w') as fh:
        fh.write(text)
    print(text, end='')


def main():
    env = os.environ
    out_dir = env.get('BENCH_OUT', os.path.join(HERE, 'results'))
    if len(sys.argv) == 3 and sys.argv[1] == '--profile':
        profile(env, int(sys.argv[2]), out_dir)
        return 0
    quick = env.get('BENCH_QUICK') == '1'
    runs = 1 if quick else int(env.get('BENCH_RUNS', '5'))
    startup_runs = 1 if quick else max(runs, 5)
    timeout = float(env.get('BENCH_TIMEOUT', '600'))
    iters = int(env['BENCH_LOOP_ITERS'])
    insns_per_iter = int(env['BENCH_LOOP_INSNS'])
    emus = [('pcvm', env['BENCH_PCVM']), ('qemu', env['BENCH_QEMU'])]
    tmp = os.path.join(out_dir, 'tmp')
    os.makedirs(tmp, exist_ok=True)
    only = env.get('BENCH_ONLY', '')
    if only not in ('', 'disk', 'nodisk'):
        sys.exit('bench: BENCH_ONLY must be disk or nodisk')
    do_main = only != 'disk'
    do_disk = only != 'nodisk' and 'BENCH_DISK_INITRD' in env

    started = datetime.datetime.utcnow()
    # run.sh records the commit when it copies the binary; the tree may move on meanwhile.
    commit = env.get('BENCH_COMMIT') or git('rev-parse', 'HEAD') or 'unknown'
    dirty = (env['BENCH_DIRTY'] == '1' if 'BENCH_DIRTY' in env
             else bool(git('status', '--porcelain', '--', 'src')))
    all_runs = []

    def record(r, n):
        r['run'] = n
        all_runs.append(r)
        brief = {k: v for k, v in r.items() if k not in ('emulator', 'kind', 'run')}
        say('%-5s %-8s run %d: %s' % (r['emulator'], r['kind'], n, json.dumps(brief)))

    # Start-up: cheap, so more runs; interleaved.
    if not do_main:
        startup_runs = 0
    for n in range(1, startup_runs + 1):
        for emu, binary in emus:
            record(kernel_run(emu, binary, env['BENCH_EXIT_KERNEL'], 'startup',
                              os.path.join(tmp, '%s-startup-%d.log' % (emu, n)), 60), n)
    # The driver's own cost of spawning a process and seeing its output and exit.
    base = []
    for n in range(1, startup_runs + 1):
        r = kernel_run('none', 'printf', '!', 'spawn-baseline', os.path.join(tmp, 'baseline.log'), 10,
                       argv=['printf', '!'])
        base.append(r.get('exit_s'))
    # MIPS: time from the loop's first output byte to the exit covers the loop alone.
    for n in range(1, runs + 1 if do_main else 1):
        for emu, binary in emus:
            r = kernel_run(emu, binary, env['BENCH_LOOP_KERNEL'], 'mips',
                           os.path.join(tmp, '%s-mips-%d.log' % (emu, n)), timeout)
            if r.get('ok'):
                r['loop_s'] = round(r['exit_s'] - r['first_output_s'], 4)
                r['instructions'] = iters * insns_per_iter
                r['mips'] = round(r['instructions'] / r['loop_s'] / 1e6, 1)
                if r.get('process_cpu_s'):
                    # Per second of host CPU, start-up included: robust on a loaded host.
                    r['mips_per_cpu_s'] = round(r['instructions'] / r['process_cpu_s'] / 1e6, 1)
            record(r, n)
    # Linux: one boot per run does boot, guest work, idle and RSS.
    for n in range(1, runs + 1 if do_main else 1):
        for emu, binary in emus:
            record(linux_run(emu, binary, env, os.path.join(tmp, '%s-linux-%d.log' % (emu, n)),
                             timeout), n)

    # Disk: one boot per run and image format, a fresh copy of the empty image each time.
    for n in range(1, runs + 1 if do_disk else 1):
        for fmt in DISK_FORMATS:
            for emu, binary in emus:
                record(disk_run(emu, binary, env, fmt,
                                os.path.join(tmp, '%s-disk-%s-%d.log' % (emu, fmt, n)), timeout), n)

    summary = summarize(all_runs)
    per_emu = {key: (startup_runs if key in ('first_output_ms', 'exit_ms')
                     else (runs if do_disk else 0) if key in DISK_SOURCES
                     else runs if do_main else 0)
               for key, _, _, _, _ in METRICS}
    text = table(summary, per_emu)
    info = machine_info()
    header = ('pcvm vs qemu-system-i386 (TCG), medians of %d run(s) each (start-up: %d), %s, '
              'commit %s%s\nhost: %s, %s cores, load average %.1f at start\n'
              % (runs, startup_runs, started.strftime('%Y-%m-%d %H:%M UTC'), commit[:12],
                 ' + uncommitted changes' if dirty else '', info['cpu_model'], info['cores'],
                 info['loadavg_at_start'][0]))
    notes = []
    if median(base) is not None:
        notes.append('start-up times include the driver\'s own spawn-to-exit cost, %.1f ms for '
                     'printf(1)' % (1000 * median(base)))
    for emu in ('pcvm', 'qemu'):
        for err in summary[emu]['linux_failed']:
            notes.append('%s Linux run failed: %s' % (emu, err))
        for r in all_runs:
            if r['emulator'] == emu and r['kind'] == 'linux':
                if r.get('rnd_error') or r.get('rnd_status'):
                    notes.append('%s run %d: the first /dev/urandom read %s' % (
                        emu, r['run'], 'did not finish (%s)' % r['rnd_error'] if r.get('rnd_error')
                        else 'was given up by timeout(1) after 60 guest seconds'))
    for r in all_runs:
        if r['kind'].startswith('disk-'):
            if not r.get('ok'):
                notes.append('%s %s run %d failed: %s' % (r['emulator'], r['kind'], r['run'],
                                                          r.get('error')))
            elif r.get('ata_errors'):
                notes.append('%s %s run %d: %d libata error lines on the console' % (
                    r['emulator'], r['kind'], r['run'], r['ata_errors']))
            g = sum(r.get(w + '_guest_s', 0) for w in DISK_WORK)
            h = sum(r.get(w + '_host_s', 0) for w in DISK_WORK)
            if r.get('ok') and h > 0 and abs(g / h - 1) > 0.2:
                notes.append('%s %s run %d: the guest clock ran at %.2fx real time during the '
                             'disk work (clocksource %s)' % (r['emulator'], r['kind'], r['run'],
                                                             g / h, r.get('guest_clocksource')))
    if do_disk:
        notes.append('disk rows: -drive file=IMG,format=raw|qcow2,if=ide,cache=%s, a fresh copy '
                     'of an empty 256 MiB image per run; rates are medians, so pcvm/QEMU = QEMU '
                     'time / pcvm time (higher is better); the random rows are 500 dd processes, '
                     'so they include the guest\'s fork/exec cost (the no-disk row)' % DISK_CACHE)
    for r in all_runs:
        if r['kind'] != 'linux' or not r.get('ok'):
            continue
        g = sum(r.get(w + '_guest_s', 0) for w in GUEST_WORK)
        h = sum(r.get(w + '_host_s', 0) for w in GUEST_WORK)
        if h > 0 and abs(g / h - 1) > 0.2:
            notes.append('%s run %d: the guest clock ran at %.2fx real time during the work '
                         '(clocksource %s%s)' % (r['emulator'], r['run'], g / h,
                                                 r.get('guest_clocksource'),
                                                 ', TSC marked unstable' if r.get('guest_tsc_unstable')
                                                 else ''))
    full = header + '\n' + text + '\n' + ('\n'.join(notes) + '\n' if notes else '')
    print('\n' + full, end='')

    result = {
        'date': started.strftime('%Y-%m-%dT%H:%M:%SZ'),
        'commit': commit, 'src_uncommitted_changes': dirty,
        'machine': info,
        'versions': {emu: version(b) for emu, b in emus},
        'pcvm_binary_sha256': env.get('BENCH_PCVM_SHA256'),
        'config': {'runs': runs, 'startup_runs': startup_runs, 'timeout_s': timeout,
                   'common_args': COMMON, 'append': APPEND, 'loop_iterations': iters,
                   'loop_insns_per_iteration': insns_per_iter, 'idle_seconds': IDLE_SECONDS,
                   'guest_ram_mb': GUEST_RAM_MB, 'only': only or None,
                   'disk': {'formats': DISK_FORMATS, 'cache': DISK_CACHE, 'seq_mb': DISK_SEQ_MB,
                            'seqr_passes': DISK_SEQR_PASSES, 'random_ops': DISK_RND_OPS, 'image_mb': 256} if do_disk else None},
        'spawn_baseline_s': base,
        'medians': {emu: {k: v['median'] for k, v in s.items() if isinstance(v, dict)}
                    for emu, s in summary.items()},
        'runs': all_runs,
        'table': full,
    }
    os.makedirs(out_dir, exist_ok=True)
    # A partial run (BENCH_ONLY) keeps the full run's latest.*: it writes latest-disk.* etc.
    suffix = ('-' + only if only else '') + (
        '-cache-' + DISK_CACHE if do_disk and DISK_CACHE != 'writeback' else '')
    name = '%s-%s%s.json' % (started.strftime('%Y-%m-%dT%H%M'), commit[:7], suffix)
    for path in (os.path.join(out_dir, name), os.path.join(out_dir, 'latest%s.json' % suffix)):
        with open(path, 'w') as fh:
            json.dump(result, fh, indent=1)
            fh.write('\n')
    with open(os.path.join(out_dir, 'latest%s.txt' % suffix), 'w') as fh:
        fh.write(full)
    say('wrote %s, latest%s.json and latest%s.txt in %s' % (name, suffix, suffix, out_dir))
    return 0


if __name__ == '__main__':
    sys.exit(main())
