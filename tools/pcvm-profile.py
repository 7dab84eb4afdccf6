#!/usr/bin/env python3
"""pcvm-profile: boot-time profiling across CPU counts and CPU models.

Boots the same pcvm command line for every (CPU model, CPU count, sample), cuts boot phases out
of the guest's console output with regexes, and writes statistics, a text report, two SVG
charts, a Chrome trace per run and every console log.  Phase times come from pcvm's own
per-byte time stamps (`-stamps FILE`): a phase begins at the first byte of the first line that
matches its marker, timed on the virtual clock at the OUT instruction that sent it.  Under
--icount runs are exactly repeatable.  README.md, "Profiling boots", shows the workflows.

Standard library only (python3 is a dependency of pcvm's tests already).
"""
import json
import os
import platform
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from xml.sax.saxutils import escape as xml_escape

TOOL = 'pcvm-profile'
VERSION = '1.0'

USAGE = """usage: pcvm-profile [OPTIONS] -- PCVM-ARGUMENTS...
  -s, --smp LIST        CPU counts, e.g. 1,2,4,8 (default: as in the arguments)
  -c, --cpu LIST        CPU models, e.g. 486,pentium,pentium2,pentium3,athlon
  -n, --samples N       boots per configuration (default 3)
  -j, --jobs N          boots at once (default: host cores)
  -t, --timeout S       per boot, host seconds (default 180); a boot that times out or
                        crashes is kept with its status and log, left out of the statistics
  -m, --marker NAME=REGEX   a phase marker, in boot order; repeatable
      --preset linux|xv6|gnumach|minix   ready-made markers (minix: the researchers' ten phases)
  -e, --end REGEX       the boot is complete (default: the last marker)
      --icount          deterministic runs (-icount shift=3,sleep=off); phases also in instructions
      --estimates FILE  expected times per model/CPU count (and phase) to compare against
  -o, --output DIR      where everything goes (default: pcvm-profile.out)
      --resume          keep the finished runs in DIR and do the rest
      --emit-jobs       print one self-contained command per run (GNU parallel, Slurm array)
      --merge DIR       rebuild results and reports from the runs found in DIR
      --pcvm PATH       the emulator (default: $PCVM, else ./pcvm beside this tool, else pcvm)
      --run ID          run only this run (what --emit-jobs prints)
  -h, --help            this text
PCVM-ARGUMENTS may start with the program (qemu-system-i386, pcvm ...): it is replaced by pcvm.
"""

# Ready-made markers: (name, regex) in boot order.
PRESETS = {
    # Debian/busybox style Linux on a serial console: the banner, the first user process,
    # a shell prompt (or a login prompt).
    'linux': [
        ('kernel', r'Linux version \d'),
        ('init', r'Run /\S* as init process|Freeing unused kernel'),
        ('shell', r'[#$] $|login: $'),
    ],
    # xv6 (x86 and RISC-V versions): kernel banner, init starting the shell, the prompt.
    'xv6': [
        ('kernel', r'xv6 kernel is booting|cpu\d+: starting'),
        ('init', r'init: starting sh'),
        ('shell', r'^\$ $'),
    ],
    # GNU Mach and the Hurd: Mach's banner, the bootstrap servers, init, the login prompt.
    'gnumach': [
        ('kernel', r'^GNU Mach \d'),
        ('modules', r'module 0:|\d+ multiboot modules'),
        ('bootstrap', r'Hurd server bootstrap|task loaded:'),
        ('init', r'INIT: version|Starting .*init|runsystem'),
        ('login', r'login: $'),
    ],
    # MINIX 3: the ten phases of the MINIX researchers' profiler (their phase names; their
    # patterns, case-insensitive, with the prompt pattern narrowed to a prompt at the end of a
    # line so it cannot match ordinary text).
    'minix': [
        ('multiboot_detected', r'(?i)Booting.*multiboot|MINIX.*boot'),
        ('kernel_starts', r'(?i)Initializing.*kernel|MINIX 3'),
        ('pre_init_phase', r'(?i)pre_init|Virtual memory'),
        ('kmain_phase', r'(?i)kmain\(|Main boot hub'),
        ('cstart_phase', r'(?i)cstart\(|CPU descriptor'),
        ('process_init', r'(?i)Process table|proc_init'),
        ('memory_init', r'(?i)memory_init|Memory allocator'),
        ('system_init', r'(?i)system_init|Exception handlers'),
        ('scheduler_ready', r'(?i)Scheduler.*ready|Scheduling|Ready to run'),
        ('shell_prompt', r'(?i)[$#%>] $|login: $'),
    ],
}

ANSI_CSI = re.compile(r'\x1b\[[0-9;?]*[ -/]*[@-~]')


class UsageError(Exception):
    """Bad input: reported as one line."""


def fail(msg, status=2):
    sys.stderr.write('%s: %s\n' % (TOOL, msg))
    sys.exit(status)


# ---------------------------------------------------------------------------------------------
# Options

def parse_list(text, what):
    items = [x.strip() for x in text.split(',')]
    if not text.strip() or any(not x for x in items):
        raise UsageError('%s: empty item in "%s"' % (what, text))
    return items


def parse_int(text, what, minimum=1):
    try:
        v = int(text)
    except ValueError:
        raise UsageError('%s: not a number: "%s"' % (what, text))
    if v < minimum:
        raise UsageError('%s: must be at least %d, not %d' % (what, minimum, v))
    return v


def compile_regex(text, what):
    try:
        return re.compile(text)
    except re.error as e:
        raise UsageError('%s: regex "%s" does not compile: %s' % (what, text, e))


def parse_options(argv):
    """argv without the program name -> dict of settings (raises UsageError)."""
    if '--' in argv:
        i = argv.index('--')
        mine, guest = argv[:i], argv[i + 1:]
    else:
        mine, guest = argv, []
    o = {'smp': None, 'cpu': None, 'samples': 3, 'jobs': os.cpu_count() or 1, 'timeout': 180.0,
         'markers': [], 'preset': None, 'end': None, 'icount': False, 'estimates': None,
         'output': 'pcvm-profile.out', 'resume': False, 'emit_jobs': False, 'merge': None,
         'pcvm': None, 'run': None, 'help': False, 'guest': guest}
    takes = {'-s': 'smp', '--smp': 'smp', '-c': 'cpu', '--cpu': 'cpu', '-n': 'samples',
             '--samples': 'samples', '-j': 'jobs', '--jobs': 'jobs', '-t': 'timeout',
             '--timeout': 'timeout', '-m': 'marker', '--marker': 'marker', '--preset': 'preset',
             '-e': 'end', '--end': 'end', '--estimates': 'estimates', '-o': 'output',
             '--output': 'output', '--merge': 'merge', '--pcvm': 'pcvm', '--run': 'run'}
    flags = {'--icount': 'icount', '--resume': 'resume', '--emit-jobs': 'emit_jobs',
             '-h': 'help', '--help': 'help'}
    i = 0
    while i < len(mine):
        a = mine[i]
        val = None
        if a.startswith('--') and '=' in a:
            a, val = a.split('=', 1)
        elif len(a) > 2 and a[0] == '-' and a[1] != '-' and a[:2] in takes:
            a, val = a[:2], a[2:]
        if a in flags:
            if val is not None:
                raise UsageError('%s takes no value' % a)
            o[flags[a]] = True
            i += 1
            continue
        if a not in takes:
            raise UsageError('unknown option "%s" (pcvm arguments go after --)' % mine[i])
        if val is None:
            if i + 1 >= len(mine):
                raise UsageError('%s needs a value' % a)
            val = mine[i + 1]
            i += 1
        i += 1
        key = takes[a]
        if key == 'smp':
            o['smp'] = [parse_int(x, a) for x in parse_list(val, a)]
        elif key == 'cpu':
            o['cpu'] = parse_list(val, a)
        elif key in ('samples', 'jobs'):
            o[key] = parse_int(val, a)
        elif key == 'timeout':
            try:
                o['timeout'] = float(val)
            except ValueError:
                raise UsageError('%s: not a number: "%s"' % (a, val))
            if o['timeout'] <= 0:
                raise UsageError('%s: must be positive' % a)
        elif key == 'marker':
            if '=' not in val or not val.split('=', 1)[0].strip():
                raise UsageError('%s: expected NAME=REGEX, got "%s"' % (a, val))
            name, rx = val.split('=', 1)
            compile_regex(rx, '%s %s' % (a, name))
            o['markers'].append((name.strip(), rx))
        elif key == 'preset':
            if val not in PRESETS:
                raise UsageError('--preset: unknown preset "%s" (%s)' % (val, '|'.join(PRESETS)))
            o['preset'] = val
        elif key == 'end':
            compile_regex(val, a)
            o['end'] = val
        else:
            o[key] = val
    if o['help']:
        return o
    if o['preset']:
        o['markers'] = list(PRESETS[o['preset']]) + o['markers']
    names = [n for n, _ in o['markers']]
    dup = sorted(set(n for n in names if names.count(n) > 1))
    if dup:
        raise UsageError('marker "%s" given twice' % dup[0])
    if o['merge'] is None:
        if not o['markers']:
            raise UsageError('no phase markers: give -m NAME=REGEX or --preset')
        if not o['guest']:
            raise UsageError('no pcvm arguments: put them after --')
    return o


# ---------------------------------------------------------------------------------------------
# The pcvm command line of one run

def find_pcvm(explicit):
    if explicit:
        return os.path.abspath(explicit) if os.sep in explicit else explicit
    if os.environ.get('PCVM'):
        return os.environ['PCVM']
    here = os.path.dirname(os.path.realpath(__file__))
    for cand in (os.path.join(here, 'pcvm'), os.path.join(os.path.dirname(here), 'pcvm')):
        if os.access(cand, os.X_OK) and os.path.isfile(cand):
            return cand
    return 'pcvm'


def option_value(args, names):
    """Last value of an option (-smp 2 / --smp 2 / -smp=2) in a QEMU-style argument list."""
    val = None
    for i, a in enumerate(args):
        if a in names and i + 1 < len(args):
            val = args[i + 1]
    return val


def strip_option(args, names):
    out = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a in names:
            skip = True
            continue
        out.append(a)
    return out


SMP_NAMES = ('-smp', '--smp')
CPU_NAMES = ('-cpu', '--cpu')


def guest_program(guest):
    """Split a leading program name off the pcvm arguments."""
    if guest and not guest[0].startswith('-'):
        return guest[0], guest[1:]
    return None, guest


def args_smp(args):
    """The CPU count an -smp argument asks for: N, cpus=N, or sockets x cores x threads."""
    v = option_value(args, SMP_NAMES)
    if v is None:
        return 1
    keys = {}
    for i, part in enumerate(v.split(',')):
        k, _, val = part.partition('=')
        if not _ and i == 0:
            k, val = 'cpus', part
        if val.isdigit():
            keys[k] = int(val)
    if 'cpus' in keys:
        return keys['cpus']
    n = keys.get('sockets', 1) * keys.get('cores', 1) * keys.get('threads', 1)
    return n if n > 0 else 1


def args_cpu(args):
    v = option_value(args, CPU_NAMES)
    return v.split(',')[0] if v else 'pentium3'


def serial_rewrite(args, log_path):
    """-serial file:X would make parallel runs share one file: point it at this run's log."""
    out = list(args)
    for i, a in enumerate(out):
        if a == '-serial' and i + 1 < len(out) and out[i + 1].startswith('file:'):
            out[i + 1] = 'file:' + log_path
            log_path += '.2'
    return out


def run_command(settings, cpu, smp, stamps_path, serial_log):
    """The argument list of one boot."""
    args = settings['guest_args']
    args = strip_option(args, SMP_NAMES + CPU_NAMES + ('-stamps', '--stamps'))
    smp_arg = option_value(settings['guest_args'], SMP_NAMES)
    if settings['smp_given'] or smp_arg is None:
        smp_arg = str(smp)
    cpu_arg = option_value(settings['guest_args'], CPU_NAMES)
    if settings['cpu_given'] or cpu_arg is None:
        cpu_arg = cpu
    args = serial_rewrite(args, serial_log)
    cmd = [settings['pcvm']] + args + ['-smp', smp_arg, '-cpu', cpu_arg, '-stamps', stamps_path]
    if settings['icount']:
        if option_value(args, ('-icount', '--icount')) is None:
            cmd += ['-icount', 'shift=3,sleep=off']
        if option_value(args, ('-rtc', '--rtc')) is None:
            cmd += ['-rtc', 'base=2000-01-01T00:00:00']  # the guest reads the same date every run
    return cmd


def run_id(cpu, smp, sample):
    safe = re.sub(r'[^A-Za-z0-9_.-]', '_', cpu)
    return '%s-smp%d-s%d' % (safe, smp, sample)


# ---------------------------------------------------------------------------------------------
# Stamps -> console lines -> phases

class PhaseMatcher:
    """Feed stamps in file order; finds each marker's first line (in boot order) and the end.

    A line is checked as it grows (so a prompt without a newline matches) and once more when it
    ends; the time of a match is the stamp of the line's first byte.  A later marker that
    matches first makes the earlier ones unreachable, so phases are always in order."""

    def __init__(self, markers, end_regex):
        self.markers = [(n, re.compile(r)) for n, r in markers]
        self.end = re.compile(end_regex) if end_regex else None
        self.found = {}           # name -> stamp tuple (virt, host, insns)
        self.floor = -1           # index of the last marker found
        self.end_stamp = None
        self.lines = {}           # source -> [chars list, first stamp]
        self.console = []         # finished lines: (stamp, source, text)
        self.last_stamp = None

    def _check(self, text, stamp):
        if '\x1b' in text:
            text = ANSI_CSI.sub('', text)
        k = self.floor + 1
        while k < len(self.markers):
            name, rx = self.markers[k]
            if rx.search(text):
                self.found[name] = stamp
                self.floor = k
            k += 1
        if self.end_stamp is None:
            if self.end is not None:
                if self.end.search(text):
                    self.end_stamp = stamp
            elif self.markers and self.floor == len(self.markers) - 1:
                self.end_stamp = self.found[self.markers[-1][0]]

    def feed(self, virt, host, insns, source, byte):
        if self.end_stamp is not None:
            return
        stamp = (virt, host, insns)
        self.last_stamp = stamp
        cur = self.lines.get(source)
        if byte == 10:
            if cur is not None:
                text = ''.join(cur[0])
                self._check(text, cur[1])
                self.console.append((cur[1], source, text))
                del self.lines[source]
            return
        if byte == 13:
            return
        if cur is None:
            cur = self.lines[source] = [[], stamp]
        cur[0].append(chr(byte))
        self._check(''.join(cur[0]), cur[1])

    def flush_partial(self):
        for source, cur in self.lines.items():
            self.console.append((cur[1], source, ''.join(cur[0])))
        self.lines = {}

    @property
    def done(self):
        return self.end_stamp is not None


class StampReader:
    """Reads a -stamps file incrementally (a growing file) and feeds a PhaseMatcher."""

    def __init__(self, path, matcher):
        self.path = path
        self.matcher = matcher
        self.f = None
        self.rest = b''
        self.header = {}
        self.bytes_by_source = {}

    def poll(self):
        if self.f is None:
            try:
                self.f = open(self.path, 'rb')
            except FileNotFoundError:
                return
        data = self.f.read()
        if not data:
            return
        data = self.rest + data
        cut = data.rfind(b'\n') + 1
        self.rest = data[cut:]
        m = self.matcher
        for line in data[:cut].split(b'\n'):
            if not line:
                continue
            if line[:1] == b'#':
                for kv in line[1:].split():
                    if b'=' in kv:
                        k, v = kv.split(b'=', 1)
                        self.header[k.decode()] = v.decode()
                continue
            parts = line.split(b' ')
            if len(parts) != 5:
                continue
            src = parts[3].decode()
            b = int(parts[4], 16)
            self.bytes_by_source.setdefault(src, bytearray()).append(b)
            m.feed(int(parts[0]), int(parts[1]), int(parts[2]), src, b)

    def close(self):
        if self.f:
            self.f.close()


# ---------------------------------------------------------------------------------------------
# Files

def write_atomic(path, text):
    tmp = '%s.tmp.%d.%d' % (path, os.getpid(), threading.get_ident())
    with open(tmp, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json(path, obj):
    write_atomic(path, json.dumps(obj, indent=1, sort_keys=False) + '\n')


def chrome_trace(run, console):
    """Chrome trace-event JSON for one run: phases as slices, console lines as instants."""
    pid = 1
    ev = [{'name': 'process_name', 'ph': 'M', 'pid': pid, 'args': {'name': 'pcvm %s' % run['id']}},
          {'name': 'thread_name', 'ph': 'M', 'pid': pid, 'tid': 1, 'args': {'name': 'boot phases'}},
          {'name': 'thread_name', 'ph': 'M', 'pid': pid, 'tid': 2, 'args': {'name': 'console'}}]
    phases = [(n, t) for n, t in run['phases_ms'].items() if t is not None]
    end = run['total_ms']
    if end is None and console:
        end = console[-1][0][0] / 1e6
    if phases:
        ev.append({'name': 'before %s' % phases[0][0], 'cat': 'phase', 'ph': 'X', 'pid': pid, 'tid': 1, 'ts': 0,
                   'dur': round(phases[0][1] * 1000, 3), 'args': {'start_ms': 0}})
    for i, (name, t) in enumerate(phases):
        stop = phases[i + 1][1] if i + 1 < len(phases) else (end if end is not None else t)
        args = {'start_ms': t}
        if run.get('phases_insns', {}).get(name) is not None:
            args['instructions_at_start'] = run['phases_insns'][name]
        ev.append({'name': name, 'cat': 'phase', 'ph': 'X', 'pid': pid, 'tid': 1,
                   'ts': round(t * 1000, 3), 'dur': round(max(stop - t, 0) * 1000, 3), 'args': args})
    for stamp, source, text in console:
        ev.append({'name': text[:80] or '(empty line)', 'cat': source, 'ph': 'i', 's': 't', 'pid': pid,
                   'tid': 2, 'ts': round(stamp[0] / 1000, 3),
                   'args': {'host_ms': stamp[1] / 1e6, 'instructions': stamp[2], 'source': source}})
    return {'traceEvents': ev, 'displayTimeUnit': 'ms',
            'otherData': {'tool': TOOL, 'version': VERSION, 'run': run['id'], 'clock': 'pcvm virtual time'}}


# ---------------------------------------------------------------------------------------------
# One boot

class Stop(Exception):
    """The user interrupted: the run in progress is not recorded."""


def run_boot(settings, cpu, smp, sample, stop_event=None, procs=None):
    """Boot once; writes runs/ID.json, logs/, traces/; returns the run record (None if stopped)."""
    out = settings['output']
    rid = run_id(cpu, smp, sample)
    for d in ('runs', 'logs', 'traces'):
        os.makedirs(os.path.join(out, d), exist_ok=True)
    stamps_path = os.path.join(out, 'runs', rid + '.stamps')
    pcvm_out = os.path.join(out, 'logs', rid + '.pcvm.txt')
    serial_log = os.path.join(out, 'logs', rid + '.serial.txt')
    for p in (stamps_path, serial_log):
        if os.path.exists(p):
            os.unlink(p)
    cmd = run_command(settings, cpu, smp, stamps_path, serial_log)
    matcher = PhaseMatcher(settings['markers'], settings['end'])
    reader = StampReader(stamps_path, matcher)
    started_real = time.time()
    t0 = time.monotonic()
    status, detail, exit_code = 'error', '', None
    with open(pcvm_out, 'w') as outf:
        outf.write('$ %s\n' % ' '.join(shlex.quote(c) for c in cmd))
        outf.flush()
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=outf, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        except OSError as e:
            proc = None
            detail = 'cannot start %s: %s' % (cmd[0], e.strerror)
        if proc is not None:
            if procs is not None:
                procs.add(proc)
            stopped = False
            timed_out = False
            while True:
                reader.poll()
                if matcher.done:
                    break
                if proc.poll() is not None:
                    break
                if stop_event is not None and stop_event.is_set():
                    stopped = True
                    break
                if time.monotonic() - t0 > settings['timeout']:
                    timed_out = True
                    break
                time.sleep(0.02)
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # pcvm flushes its stamps and logs on SIGTERM
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            exit_code = proc.returncode
            if procs is not None:
                procs.discard(proc)
            if stopped:
                reader.close()
                raise Stop()
            reader.poll()
            if matcher.done:
                status = 'ok'
            elif timed_out:
                status, detail = 'timeout', 'no end of boot within %g s' % settings['timeout']
            else:
                status = 'error'
                detail = 'pcvm exited with status %s before the end of the boot' % exit_code
                try:
                    with open(pcvm_out) as f:
                        lines = [l.strip() for l in f.read().splitlines()[1:] if l.strip()]
                    if lines:
                        detail += ': ' + lines[-1][:200]
                except OSError:
                    pass
    reader.close()
    matcher.flush_partial()
    host_seconds = time.monotonic() - t0
    # The console as the guest sent it, per source, rebuilt from the stamps.
    logs = {}
    for src, data in sorted(reader.bytes_by_source.items()):
        name = rid + ('.log' if src == 'serial0' else '.%s.log' % src)
        with open(os.path.join(out, 'logs', name), 'wb') as f:
            f.write(bytes(data))
        logs[src] = os.path.join('logs', name)
    if not logs:
        with open(os.path.join(out, 'logs', rid + '.log'), 'wb'):
            pass
        logs['serial0'] = os.path.join('logs', rid + '.log')
    main_log = logs.get('serial0') or next(iter(logs.values()))
    phases = {}
    phases_insns = {}
    phases_host = {}
    for name, _ in settings['markers']:
        st = matcher.found.get(name)
        phases[name] = None if st is None else st[0] / 1e6
        phases_insns[name] = None if st is None else st[2]
        phases_host[name] = None if st is None else st[1] / 1e6
    end = matcher.end_stamp
    run = {
        'id': rid, 'cpu': cpu, 'smp': smp, 'sample': sample, 'status': status,
        'total_ms': end[0] / 1e6 if (end and status == 'ok') else None,
        'phases_ms': phases,
        'instructions': end[2] if (end and status == 'ok') else None,
        'log': main_log,
        # More than the schema asks:
        'detail': detail,
        'phases_insns': phases_insns,
        'phases_host_ms': phases_host,
        'total_host_ms': end[1] / 1e6 if (end and status == 'ok') else None,
        'logs': logs,
        'trace': os.path.join('traces', rid + '.trace.json'),
        'stamps': os.path.relpath(stamps_path, out),
        'pcvm_output': os.path.relpath(pcvm_out, out),
        'exit_code': exit_code,
        'clock': reader.header.get('clock'),
        'command': cmd,
        'host': socket.gethostname(),
        'started': started_real,
        'host_seconds': round(host_seconds, 3),
    }
    write_json(os.path.join(out, run['trace']), chrome_trace(run, matcher.console))
    write_json(os.path.join(out, 'runs', rid + '.json'), run)
    return run


# ---------------------------------------------------------------------------------------------
# Statistics

def stats(values):
    if not values:
        return {'mean': None, 'median': None, 'stdev': None, 'min': None, 'max': None}
    return {'mean': statistics.mean(values), 'median': statistics.median(values),
            'stdev': statistics.stdev(values) if len(values) > 1 else None,
            'min': min(values), 'max': max(values)}


def classify(error_percent):
    e = abs(error_percent)
    if e < 10:
        return 'VERIFIED'
    if e <= 20:
        return 'PLAUSIBLE'
    return 'NEEDS_VALIDATION'


def load_estimates(path):
    """Estimates: JSON list (or {"estimates": [...]}) of {cpu, smp, total_ms, phases_ms}, or CSV
    lines cpu,smp,phase,expected_ms (phase "total" or a marker name; "*" matches any cpu/smp).
    Returns {(cpu, smp_str): {'total': ms, phase: ms}}."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError as e:
        raise UsageError('--estimates %s: %s' % (path, e.strerror))
    table = {}

    def put(cpu, smp, phase, ms, where):
        try:
            v = float(ms)
        except (TypeError, ValueError):
            raise UsageError('--estimates %s: %s: expected_ms "%s" is not a number' % (path, where, ms))
        if v <= 0:
            raise UsageError('--estimates %s: %s: expected_ms must be positive' % (path, where))
        table.setdefault((str(cpu), str(smp)), {})[phase] = v

    stripped = text.lstrip()
    if stripped.startswith('{') or stripped.startswith('['):
        try:
            data = json.loads(text)
        except ValueError as e:
            raise UsageError('--estimates %s: invalid JSON: %s' % (path, e))
        if isinstance(data, dict):
            data = data.get('estimates')
        if not isinstance(data, list):
            raise UsageError('--estimates %s: expected a list of {cpu, smp, total_ms, phases_ms}' % path)
        for i, e in enumerate(data):
            if not isinstance(e, dict) or 'cpu' not in e or 'smp' not in e:
                raise UsageError('--estimates %s: entry %d needs cpu and smp' % (path, i + 1))
            if 'total_ms' in e:
                put(e['cpu'], e['smp'], 'total', e['total_ms'], 'entry %d' % (i + 1))
            for ph, ms in (e.get('phases_ms') or {}).items():
                put(e['cpu'], e['smp'], ph, ms, 'entry %d' % (i + 1))
    else:
        for n, line in enumerate(text.splitlines(), 1):
            line = line.split('#', 1)[0].strip()
            if not line or line.lower().startswith('cpu,'):
                continue
            f = [x.strip() for x in line.split(',')]
            if len(f) != 4:
                raise UsageError('--estimates %s:%d: expected cpu,smp,phase,expected_ms' % (path, n))
            put(f[0], f[1], f[2], f[3], 'line %d' % n)
    return table


def lookup_estimate(table, cpu, smp, phase):
    for key in ((cpu, str(smp)), (cpu, '*'), ('*', str(smp)), ('*', '*')):
        if key in table and phase in table[key]:
            return table[key][phase]
    return None


def estimate_entry(expected, measured):
    if expected is None or measured is None:
        return None
    err = (measured - expected) / expected * 100.0
    return {'expected_ms': expected, 'error_percent': round(err, 2), 'status': classify(err)}


def max_overlap(runs):
    """Most runs that were booting at the same moment on one host (from their start/duration)."""
    best = 0
    by_host = {}
    for r in runs:
        if r.get('started') is not None and r.get('host_seconds') is not None:
            by_host.setdefault(r.get('host', ''), []).append((r['started'], r['started'] + r['host_seconds']))
    for spans in by_host.values():
        points = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda p: (p[0], p[1]))
        cur = 0
        for _, d in points:
            cur += d
            best = max(best, cur)
    return best


def build_results(settings, runs, estimates):
    markers = settings['markers']
    cpus = settings['cpus']
    smps = settings['smps']
    by_conf = {}
    for r in runs:
        by_conf.setdefault((r['cpu'], r['smp']), []).append(r)
    configurations = []
    for cpu in cpus:
        ok_base = None
        for smp in smps:
            good = [r for r in by_conf.get((cpu, smp), []) if r['status'] == 'ok']
            if good and ok_base is None:
                ok_base = (smp, statistics.mean(r['total_ms'] for r in good))
            conf = {'cpu': cpu, 'smp': smp, 'n': len(good),
                    'total_ms': stats([r['total_ms'] for r in good]),
                    'phases_ms': {name: stats([r['phases_ms'][name] for r in good
                                               if r['phases_ms'].get(name) is not None])
                                  for name, _ in markers}}
            if good and ok_base:
                mean = conf['total_ms']['mean']
                conf['speedup'] = ok_base[1] / mean if mean else None
                conf['efficiency'] = conf['speedup'] / (smp / ok_base[0]) if conf['speedup'] else None
                conf['speedup_baseline_smp'] = ok_base[0]
            else:
                conf['speedup'] = None
                conf['efficiency'] = None
            conf['estimate'] = estimate_entry(lookup_estimate(estimates, cpu, smp, 'total'),
                                              conf['total_ms']['mean'])
            conf['phase_estimates'] = {}
            for name, _ in markers:
                e = estimate_entry(lookup_estimate(estimates, cpu, smp, name), conf['phases_ms'][name]['mean'])
                if e:
                    conf['phase_estimates'][name] = e
            conf['instructions'] = stats([r['instructions'] for r in good if r.get('instructions') is not None])
            conf['failed_runs'] = [r['id'] for r in by_conf.get((cpu, smp), []) if r['status'] != 'ok']
            configurations.append(conf)
    order = {run_id(c, s, n): i for i, (c, s, n) in enumerate(matrix(settings))}
    runs = sorted(runs, key=lambda r: order.get(r['id'], len(order)))
    return {
        'tool': {'name': TOOL, 'version': VERSION},
        'host': host_info(settings),
        'command': settings['command'],
        'markers': [{'name': n, 'regex': r} for n, r in markers],
        'icount': settings['icount'],
        'jobs': max_overlap(runs) or settings['jobs'],
        'runs': runs,
        'configurations': configurations,
        'matrix': {'cpu': cpus, 'smp': smps, 'samples': settings['samples'], 'runs': len(order)},
        'end': settings['end'],
        'timeout_s': settings['timeout'],
        'jobs_requested': settings['jobs'],
        'pcvm': settings['pcvm'],
        'pcvm_arguments': settings['guest_args'],
        'time_unit': 'ms of pcvm virtual time since the machine was built',
    }


def host_info(settings):
    info = {'hostname': socket.gethostname(), 'system': platform.system(), 'release': platform.release(),
            'machine': platform.machine(), 'cores': os.cpu_count(), 'python': platform.python_version()}
    try:
        info['load_average'] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    try:
        with open('/proc/cpuinfo') as f:
            m = re.search(r'^model name\s*:\s*(.*)$', f.read(), re.M)
            if m:
                info['cpu'] = m.group(1).strip()
    except OSError:
        pass
    info['pcvm_version'] = settings.get('pcvm_version')
    return info


# ---------------------------------------------------------------------------------------------
# Report and charts

def fmt(v, digits=None):
    if v is None:
        return '-'
    if isinstance(v, float):
        if digits is None:
            digits = 1 if abs(v) >= 100 else 3
        return '%.*f' % (digits, v)
    return str(v)


def table(headers, rows):
    cols = [headers] + [[fmt(c) if not isinstance(c, str) else c for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cols) for i in range(len(headers))]
    lines = ['  '.join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in cols]
    lines.insert(1, '  '.join('-' * w for w in widths))
    return '\n'.join(lines)


def report_text(res):
    out = []
    host = res['host']
    out.append('pcvm-profile %s report' % res['tool']['version'])
    out.append('host: %s, %s cores, %s %s%s' % (host.get('hostname'), host.get('cores'), host.get('system'),
                                                host.get('release'),
                                                (', load %s' % host['load_average']) if 'load_average' in host else ''))
    out.append('command: %s' % ' '.join(shlex.quote(c) for c in res['command']))
    out.append('pcvm arguments: %s' % ' '.join(shlex.quote(c) for c in res['pcvm_arguments']))
    out.append('clock: %s; times are ms of pcvm virtual time since the machine was built, taken at'
               % ('-icount (deterministic)' if res['icount'] else 'host-following virtual clock'))
    out.append('       the first byte of the first console line matching each marker (pcvm -stamps)')
    out.append('boots at once: %d (requested %s); timeout %g s per boot' % (res['jobs'], res['jobs_requested'],
                                                                          res['timeout_s']))
    out.append('markers: ' + ', '.join('%s=/%s/' % (m['name'], m['regex']) for m in res['markers']))
    if res['end']:
        out.append('end of boot: /%s/' % res['end'])
    names = [m['name'] for m in res['markers']]
    confs = res['configurations']
    runs = res['runs']
    nok = sum(1 for r in runs if r['status'] == 'ok')
    out.append('runs: %d of %d in the matrix (%d ok, %d timeout, %d error)' % (
        len(runs), res['matrix']['runs'], nok, sum(1 for r in runs if r['status'] == 'timeout'),
        sum(1 for r in runs if r['status'] == 'error')))
    out.append('')
    out.append('Table 1. Boot time (ms), successful runs only')
    out.append(table(['cpu', 'smp', 'n', 'mean', 'median', 'stdev', 'min', 'max'],
                     [[c['cpu'], str(c['smp']), str(c['n']), c['total_ms']['mean'], c['total_ms']['median'],
                       c['total_ms']['stdev'], c['total_ms']['min'], c['total_ms']['max']] for c in confs]))
    out.append('')
    out.append('Table 2. Phase start (ms from machine start, mean over successful runs)')
    out.append(table(['cpu', 'smp'] + names,
                     [[c['cpu'], str(c['smp'])] + [c['phases_ms'][n]['mean'] for n in names] for c in confs]))
    out.append('')
    out.append('Table 3. Phase length (ms, mean: from this marker to the next, the last to the end)')
    rows = []
    for c in confs:
        starts = [c['phases_ms'][n]['mean'] for n in names] + [c['total_ms']['mean']]
        lens = []
        for i in range(len(names)):
            nxt = next((s for s in starts[i + 1:] if s is not None), None)
            lens.append(nxt - starts[i] if (starts[i] is not None and nxt is not None) else None)
        rows.append([c['cpu'], str(c['smp'])] + lens)
    out.append(table(['cpu', 'smp'] + names, rows))
    out.append('')
    out.append('Table 4. Scaling: speedup T(base)/T(N) and efficiency speedup/(N/base), base = fewest CPUs measured')
    out.append(table(['cpu', 'smp', 'mean ms', 'speedup', 'efficiency'],
                     [[c['cpu'], str(c['smp']), c['total_ms']['mean'],
                       None if c['speedup'] is None else '%.3f' % c['speedup'],
                       None if c['efficiency'] is None else '%.3f' % c['efficiency']] for c in confs]))
    if any(r.get('instructions') is not None for r in runs):
        out.append('')
        out.append('Table 5. Instructions retired (all vCPUs) at each phase start and at the end (mean)')
        rows = []
        for c in confs:
            good = [r for r in runs if r['cpu'] == c['cpu'] and r['smp'] == c['smp'] and r['status'] == 'ok']
            row = [c['cpu'], str(c['smp'])]
            for n in names + [None]:
                vals = [r['instructions'] if n is None else r['phases_insns'].get(n) for r in good]
                vals = [v for v in vals if v is not None]
                row.append('%d' % round(statistics.mean(vals)) if vals else None)
            rows.append(row)
        out.append(table(['cpu', 'smp'] + names + ['end'], rows))
        if res['icount']:
            same = []
            for c in confs:
                good = [r for r in runs if r['cpu'] == c['cpu'] and r['smp'] == c['smp'] and r['status'] == 'ok']
                if len(good) > 1:
                    ident = all(r['phases_insns'] == good[0]['phases_insns'] and r['instructions'] ==
                                good[0]['instructions'] and r['phases_ms'] == good[0]['phases_ms'] for r in good)
                    same.append('%s/%d: %s' % (c['cpu'], c['smp'], 'identical' if ident else 'DIFFERENT'))
            if same:
                out.append('samples under -icount: ' + ', '.join(same))
    if any(c['estimate'] or c['phase_estimates'] for c in confs):
        out.append('')
        out.append('Table 6. Against the estimates (VERIFIED < 10 %, PLAUSIBLE 10-20 %, NEEDS_VALIDATION > 20 %)')
        rows = []
        for c in confs:
            items = ([('total', c['estimate'], c['total_ms']['mean'])] if c['estimate'] else [])
            items += [(n, c['phase_estimates'][n], c['phases_ms'][n]['mean']) for n in names if n in c['phase_estimates']]
            for what, e, measured in items:
                rows.append([c['cpu'], str(c['smp']), what, e['expected_ms'], measured,
                             '%+.1f' % e['error_percent'], e['status']])
        out.append(table(['cpu', 'smp', 'what', 'expected', 'measured', 'error %', 'status'], rows))
    bad = [r for r in runs if r['status'] != 'ok']
    out.append('')
    if bad:
        out.append('Runs left out of the statistics:')
        for r in bad:
            out.append('  %s: %s (%s); log %s' % (r['id'], r['status'], r.get('detail') or '-', r['log']))
    else:
        out.append('Every run completed.')
    missing = res['matrix']['runs'] - len(runs)
    if missing > 0:
        out.append('%d run(s) of the matrix not done yet (--resume finishes them).' % missing)
    return '\n'.join(out) + '\n'


PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7',
           '#9c755f', '#bab0ac', '#1f77b4', '#2ca02c']


def nice_step(span, count=5):
    if span <= 0:
        return 1.0
    raw = span / count
    mag = 10 ** int(('%e' % raw).split('e')[1])
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def svg_doc(width, height, body, title):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" '
            'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">\n'
            '<title>%s</title>\n<rect width="100%%" height="100%%" fill="white"/>\n%s\n</svg>\n'
            % (width, height, width, height, xml_escape(title), '\n'.join(body)))


def timeline_svg(res):
    """One bar per configuration: each phase from its mean start to the next, to the mean end."""
    names = [m['name'] for m in res['markers']]
    confs = res['configurations']
    left, right, top, row_h = 170, 70, 50, 26
    legend_h = 22 * ((len(names) + 4) // 4)
    width = 900
    height = top + row_h * max(len(confs), 1) + 50 + legend_h
    tmax = max([c['total_ms']['max'] or 0 for c in confs] + [1])
    scale = (width - left - right) / tmax
    body = ['<text x="%d" y="24" font-size="15" font-weight="bold">Boot phases per configuration '
            '(mean, ms of virtual time)</text>' % left]
    step = nice_step(tmax)
    axis_y = top + row_h * max(len(confs), 1) + 4
    t = 0.0
    while t <= tmax + 1e-9:
        x = left + t * scale
        body.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (x, top - 6, x, axis_y))
        body.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (x, axis_y + 16, fmt(t, 0)))
        t += step
    for i, c in enumerate(confs):
        y = top + i * row_h
        body.append('<text x="%d" y="%d" text-anchor="end">%s</text>'
                    % (left - 8, y + 16, xml_escape('%s smp=%d (n=%d)' % (c['cpu'], c['smp'], c['n']))))
        if not c['n']:
            body.append('<text x="%d" y="%d" fill="#a00">no successful run</text>' % (left + 4, y + 16))
            continue
        starts = [c['phases_ms'][n]['mean'] for n in names]
        end = c['total_ms']['mean']
        first = next((x for x in starts if x is not None), end)
        body.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="#d9d9d9"><title>%s</title></rect>'
                    % (left, y + 3, max(first * scale, 1.0), row_h - 6,
                       xml_escape('before the first marker: 0 to %.1f ms' % first)))
        for k, n in enumerate(names):
            if starts[k] is None:
                continue
            nxt = next((s for s in starts[k + 1:] if s is not None), end)
            x0, x1 = left + starts[k] * scale, left + max(nxt, starts[k]) * scale
            body.append('<rect x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"><title>%s</title></rect>'
                        % (x0, y + 3, max(x1 - x0, 1.0), row_h - 6, PALETTE[k % len(PALETTE)],
                           xml_escape('%s: %.1f ms to %.1f ms' % (n, starts[k], nxt))))
        body.append('<text x="%.1f" y="%d" font-size="10">%s</text>' % (left + end * scale + 3, y + 16, fmt(end, 0)))
    ly = axis_y + 34
    legend = [('before the first marker', '#d9d9d9')] + [(n, PALETTE[k % len(PALETTE)]) for k, n in enumerate(names)]
    for k, (n, color) in enumerate(legend):
        x = left + (k % 4) * 170
        yy = ly + (k // 4) * 22
        body.append('<rect x="%d" y="%d" width="14" height="14" fill="%s"/>' % (x, yy - 11, color))
        body.append('<text x="%d" y="%d">%s</text>' % (x + 20, yy, xml_escape(n)))
    return svg_doc(width, height, body, 'pcvm-profile timeline')


def scaling_svg(res):
    """Mean boot time against CPU count, one line per model, error bars = one stdev."""
    confs = [c for c in res['configurations'] if c['n']]
    smps = sorted(set(res['matrix']['smp']))
    cpus = res['matrix']['cpu']
    width, height = 760, 460
    left, right, top, bottom = 80, 160, 50, 60
    pw, ph = width - left - right, height - top - bottom
    ymax = max([(c['total_ms']['mean'] or 0) + (c['total_ms']['stdev'] or 0) for c in confs] + [1]) * 1.1
    step = nice_step(ymax)
    body = ['<text x="%d" y="26" font-size="15" font-weight="bold">Boot time against CPU count '
            '(mean, error bars: 1 stdev)</text>' % left]

    def px(smp):
        if len(smps) == 1:
            return left + pw / 2
        return left + 30 + smps.index(smp) * (pw - 60) / (len(smps) - 1)

    def py(ms):
        return top + ph - ms / ymax * ph

    y = 0.0
    while y <= ymax + 1e-9:
        body.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (left, py(y), left + pw, py(y)))
        body.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (left - 6, py(y) + 4, fmt(y, 0)))
        y += step
    for s in smps:
        body.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (px(s), top + ph + 18, s))
    body.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (left, top + ph, left + pw, top + ph))
    body.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (left, top, left, top + ph))
    body.append('<text x="%.1f" y="%d" text-anchor="middle">CPU count (-smp)</text>' % (left + pw / 2, height - 18))
    body.append('<text x="18" y="%.1f" text-anchor="middle" transform="rotate(-90 18 %.1f)">boot time (ms)</text>'
                % (top + ph / 2, top + ph / 2))
    for k, cpu in enumerate(cpus):
        color = PALETTE[k % len(PALETTE)]
        pts = [(c['smp'], c['total_ms']) for c in confs if c['cpu'] == cpu]
        if len(pts) > 1:
            body.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>'
                        % (color, ' '.join('%.1f,%.1f' % (px(s), py(t['mean'])) for s, t in pts)))
        for s, t in pts:
            x, yy = px(s), py(t['mean'])
            if t['stdev']:
                lo, hi = py(t['mean'] - t['stdev']), py(t['mean'] + t['stdev'])
                body.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>' % (x, lo, x, hi, color))
                for yb in (lo, hi):
                    body.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s"/>' % (x - 5, yb, x + 5, yb, color))
            body.append('<circle cx="%.1f" cy="%.1f" r="4" fill="%s"><title>%s</title></circle>'
                        % (x, yy, color, xml_escape('%s smp=%d: %.1f ms' % (cpu, s, t['mean']))))
        ly = top + 10 + k * 20
        body.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>'
                    % (left + pw + 20, ly, left + pw + 40, ly, color))
        body.append('<text x="%d" y="%d">%s</text>' % (left + pw + 46, ly + 4, xml_escape(cpu)))
    return svg_doc(width, height, body, 'pcvm-profile scaling')


def write_outputs(settings, runs, estimates):
    res = build_results(settings, runs, estimates)
    out = settings['output']
    write_json(os.path.join(out, 'results.json'), res)
    write_atomic(os.path.join(out, 'report.txt'), report_text(res))
    write_atomic(os.path.join(out, 'timeline.svg'), timeline_svg(res))
    write_atomic(os.path.join(out, 'scaling.svg'), scaling_svg(res))
    return res


# ---------------------------------------------------------------------------------------------
# Driving the matrix

def matrix(settings):
    return [(c, s, n) for c in settings['cpus'] for s in settings['smps'] for n in range(1, settings['samples'] + 1)]


def load_runs(out):
    runs = {}
    d = os.path.join(out, 'runs')
    if not os.path.isdir(d):
        return runs
    for name in sorted(os.listdir(d)):
        if name.endswith('.json'):
            try:
                with open(os.path.join(d, name)) as f:
                    r = json.load(f)
                runs[r['id']] = r
            except (OSError, ValueError, KeyError):
                continue
    return runs


def clear_runs(out):
    """A new profile (not --resume) starts without the runs of an earlier one in DIR."""
    d = os.path.join(out, 'runs')
    if os.path.isdir(d):
        for name in os.listdir(d):
            os.unlink(os.path.join(d, name))


def check_models(pcvm, cpus):
    """An unknown model is one line, before any boot: the machine build stops at the CPUs or,
    for a good model, at a firmware file that does not exist."""
    for cpu in cpus:
        try:
            r = subprocess.run([pcvm, '-cpu', cpu, '-bios', 'pcvm-profile-no-such-firmware.bin', '-nodefaults',
                                '-display', 'none'], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, timeout=30)
        except OSError as e:
            raise UsageError('cannot run %s: %s' % (pcvm, e.strerror))
        except subprocess.TimeoutExpired:
            continue
        if 'pcvm-profile-no-such-firmware' not in r.stdout:
            line = (r.stdout.strip().splitlines() or ['cannot check'])[0]
            raise UsageError('--cpu %s: %s' % (cpu, line.replace('pcvm: ', '', 1)))


def check_arguments(settings):
    """pcvm's own parser judges the arguments of each configuration: its one error line is ours."""
    for cpu in settings['cpus']:
        for smp in settings['smps']:
            cmd = run_command(settings, cpu, smp, os.devnull, os.devnull)
            check_pcvm_line(cmd[0], cmd[1:])


def check_pcvm_line(pcvm, args):
    try:
        r = subprocess.run([pcvm, '--dump-config'] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=30)
    except OSError as e:
        raise UsageError('cannot run %s: %s' % (pcvm, e.strerror))
    if r.returncode != 0:
        raise UsageError('pcvm arguments: %s' % (r.stderr.strip().splitlines() or ['rejected'])[0])


def pcvm_version(pcvm):
    try:
        r = subprocess.run([pcvm, '-version'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=10)
        return r.stdout.strip().splitlines()[0] if r.stdout.strip() else None
    except (OSError, subprocess.TimeoutExpired):
        return None


class Progress:
    def __init__(self, total, done, jobs):
        self.total, self.done, self.jobs = total, done, jobs
        self.tty = sys.stderr.isatty()
        self.t0 = time.monotonic()
        self.finished_here = 0
        self.running = {}
        self.lock = threading.Lock()

    def eta(self):
        if not self.finished_here:
            return '?'
        per = (time.monotonic() - self.t0) / self.finished_here
        left = (self.total - self.done) * per
        return '%dm%02ds' % (left // 60, left % 60)

    def show(self):
        if not self.tty:
            return
        cur = ', '.join(sorted(self.running.values())) or '-'
        line = '[%d/%d] running: %s | ETA %s' % (self.done, self.total, cur, self.eta())
        cols = 120
        try:
            cols = os.get_terminal_size(sys.stderr.fileno()).columns or cols
        except OSError:
            pass
        sys.stderr.write('\r\x1b[K' + line[:cols - 1])
        sys.stderr.flush()

    def start(self, rid):
        with self.lock:
            self.running[rid] = rid
            if not self.tty:
                sys.stderr.write('%s: [%d/%d] start %s\n' % (TOOL, self.done, self.total, rid))
            self.show()

    def finish(self, rid, run):
        with self.lock:
            self.running.pop(rid, None)
            if run is None:
                return
            self.done += 1
            self.finished_here += 1
            msg = '%s: [%d/%d] %s %s' % (TOOL, self.done, self.total, rid, run['status'])
            if run['status'] == 'ok':
                msg += ' %.1f ms' % run['total_ms']
            else:
                msg += ' (%s)' % run.get('detail', '')
            if self.tty:
                sys.stderr.write('\r\x1b[K')
            sys.stderr.write(msg + ' | ETA %s\n' % self.eta())
            self.show()

    def close(self):
        if self.tty:
            sys.stderr.write('\r\x1b[K')
            sys.stderr.flush()


def run_matrix(settings, estimates):
    out = settings['output']
    todo = matrix(settings)
    existing = load_runs(out) if settings['resume'] else {}
    if not settings['resume']:
        clear_runs(out)
    wanted = {run_id(c, s, n) for c, s, n in todo}
    runs = {k: v for k, v in existing.items() if k in wanted}
    pending = [t for t in todo if run_id(*t) not in runs]
    if settings['resume']:
        sys.stderr.write('%s: resuming: %d run(s) kept, %d to do\n' % (TOOL, len(runs), len(pending)))
    stop = threading.Event()
    procs = set()
    lock = threading.Lock()
    progress = Progress(len(todo), len(runs), settings['jobs'])
    queue = list(pending)

    def on_signal(signum, frame):
        stop.set()

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    write_outputs(settings, list(runs.values()), estimates)

    def worker():
        while not stop.is_set():
            with lock:
                if not queue:
                    return
                cpu, smp, sample = queue.pop(0)
            rid = run_id(cpu, smp, sample)
            progress.start(rid)
            try:
                run = run_boot(settings, cpu, smp, sample, stop, procs)
            except Stop:
                progress.finish(rid, None)
                return
            with lock:
                runs[rid] = run
                write_outputs(settings, list(runs.values()), estimates)
            progress.finish(rid, run)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(settings['jobs'], max(len(pending), 1)))]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        for t in threads:
            t.join(0.2)
    progress.close()
    for s, h in old.items():
        signal.signal(s, h)
    res = write_outputs(settings, list(runs.values()), estimates)
    if stop.is_set():
        sys.stderr.write('%s: interrupted: %d of %d runs kept in %s (--resume continues)\n'
                         % (TOOL, len(runs), len(todo), out))
        return 130
    sys.stdout.write(report_text(res))
    sys.stderr.write('%s: results in %s (results.json, report.txt, timeline.svg, scaling.svg, traces/, logs/)\n'
                     % (TOOL, out))
    return 0


def settings_from_options(o, argv):
    prog, guest_args = guest_program(o['guest'])
    pcvm = o['pcvm']
    if pcvm is None and prog and not re.match(r'^(.*/)?qemu-system-', prog):
        pcvm = prog
    pcvm = find_pcvm(pcvm)
    cpus = o['cpu'] or [args_cpu(guest_args)]
    smps = o['smp'] or [args_smp(guest_args)]
    if not cpus or not smps or not o['samples']:
        raise UsageError('the matrix is empty')
    if len(set(cpus)) != len(cpus) or len(set(smps)) != len(smps):
        raise UsageError('a CPU model or count is listed twice')
    if o['end'] is None and not o['markers']:
        raise UsageError('no phase markers')
    return {
        'pcvm': pcvm, 'guest_args': guest_args, 'cpus': cpus, 'smps': smps,
        'smp_given': o['smp'] is not None, 'cpu_given': o['cpu'] is not None,
        'samples': o['samples'], 'jobs': o['jobs'], 'timeout': o['timeout'], 'markers': o['markers'],
        'end': o['end'], 'icount': o['icount'], 'output': os.path.abspath(o['output']),
        'resume': o['resume'], 'command': [TOOL] + argv, 'estimates_file': o['estimates'],
        'cwd': os.getcwd(),
    }


def save_settings(settings):
    os.makedirs(settings['output'], exist_ok=True)
    keep = {k: v for k, v in settings.items() if k not in ('resume',)}
    write_json(os.path.join(settings['output'], 'profile.json'), keep)


def load_settings(out):
    try:
        with open(os.path.join(out, 'profile.json')) as f:
            s = json.load(f)
    except OSError:
        raise UsageError('--merge %s: no profile.json there (made by a profile run or --emit-jobs)' % out)
    except ValueError as e:
        raise UsageError('--merge %s: profile.json: %s' % (out, e))
    s['markers'] = [tuple(m) for m in s['markers']]
    s['output'] = os.path.abspath(out)
    return s


def job_command(settings, cpu, smp, sample):
    me = os.path.realpath(sys.argv[0])
    cmd = [me, '--run', run_id(cpu, smp, sample), '--pcvm', settings['pcvm'], '-c', cpu, '-s', str(smp),
           '-n', str(sample), '-t', '%g' % settings['timeout'], '-o', settings['output']]
    for name, rx in settings['markers']:
        cmd += ['-m', '%s=%s' % (name, rx)]
    if settings['end']:
        cmd += ['-e', settings['end']]
    if settings['icount']:
        cmd.append('--icount')
    cmd.append('--')
    # Keep the user's own -smp/-cpu out: the job's -s/-c decide.
    cmd += settings['guest_args']
    # Relative paths in the pcvm arguments mean what they meant where the matrix was set up.
    return 'cd %s && %s' % (shlex.quote(settings['cwd']), ' '.join(shlex.quote(c) for c in cmd))


def main(argv):
    try:
        o = parse_options(argv)
        if o['help']:
            sys.stdout.write(USAGE)
            return 0
        if o['merge'] is not None:
            settings = load_settings(o['merge'])
            estimates = load_estimates(o['estimates'] or settings.get('estimates_file')) \
                if (o['estimates'] or settings.get('estimates_file')) else {}
            runs = load_runs(settings['output'])
            if not runs:
                raise UsageError('--merge %s: no runs in %s/runs' % (o['merge'], o['merge']))
            settings['command'] = settings.get('command', [TOOL]) + ['(merged: %s)' % ' '.join([TOOL] + argv)]
            wanted = {run_id(*t) for t in matrix(settings)}
            res = write_outputs(settings, [r for k, r in runs.items() if k in wanted], estimates)
            sys.stdout.write(report_text(res))
            return 0
        settings = settings_from_options(o, argv)
        estimates = load_estimates(o['estimates']) if o['estimates'] else {}
        if o['run'] is not None:
            # One run of an emitted job: -n is this run's sample number.
            cpu, smp, sample = settings['cpus'][0], settings['smps'][0], o['samples']
            if run_id(cpu, smp, sample) != o['run']:
                raise UsageError('--run %s does not match -c/-s/-n' % o['run'])
            run = run_boot(settings, cpu, smp, sample)
            sys.stderr.write('%s: %s %s%s\n' % (TOOL, run['id'], run['status'],
                                                ' %.1f ms' % run['total_ms'] if run['status'] == 'ok' else ''))
            return 0 if run['status'] == 'ok' else 1
        check_arguments(settings)
        check_models(settings['pcvm'], settings['cpus'])
        settings['pcvm_version'] = pcvm_version(settings['pcvm'])
        save_settings(settings)
        if o['emit_jobs']:
            done = load_runs(settings['output']) if o['resume'] else {}
            if not o['resume']:
                clear_runs(settings['output'])
            for cpu, smp, sample in matrix(settings):
                if run_id(cpu, smp, sample) not in done:
                    print(job_command(settings, cpu, smp, sample))
            return 0
        return run_matrix(settings, estimates)
    except UsageError as e:
        fail(str(e))


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
