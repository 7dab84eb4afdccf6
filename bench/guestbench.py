"""What the guest benchmarks (virtio_blk.py, net.py, virtio_9p.py, kvmclock.py) share: the
emulators to compare, one Linux boot to the busybox prompt, commands timed inside the guest,
runs that alternate between the emulators (so a change of the host's load hits each alike),
medians, and writing bench/results/NAME-latest.txt and .json."""
import json
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'guests'))
from console import Console, GuestFailure, cache_dir  # noqa: E402,F401
from linux import initramfs  # noqa: E402

MIB = 1 << 20
LOGS = os.path.join(ROOT, 'build', 'bench')
PROMPT = r'pcvm:[^\n]*# '


def emulators():
    """[(kind, binary)]: pcvm (BENCH_PCVM, default ./pcvm) and QEMU (BENCH_QEMU)."""
    return [('pcvm', os.environ.get('BENCH_PCVM', os.path.join(ROOT, 'pcvm'))),
            ('qemu', os.environ.get('BENCH_QEMU', 'qemu-system-i386'))]


def linux_argv(emu, modules='', extra=(), append='console=ttyS0 quiet', cpu='pentium3'):
    """bench.py's machine (-accel tcg -m 256 -cpu pentium3 -nodefaults -nic none -display none
    -serial stdio -monitor none) booting Debian's 686 kernel and the busybox initramfs with
    these modules, plus extra."""
    return [emu, '-accel', 'tcg', '-m', '256', '-cpu', cpu, '-nodefaults', '-nic', 'none',
            '-display', 'none', '-serial', 'stdio', '-monitor', 'none',
            '-kernel', os.path.join(cache_dir(), 'guests', 'vmlinuz-686'),
            '-initrd', initramfs(modules), '-append', append] + list(extra)


def boot(argv, log_name, timeout=900):
    """Start argv and wait for the shell prompt; returns (Console, wall seconds to the prompt)."""
    os.makedirs(LOGS, exist_ok=True)
    t0 = time.monotonic()
    c = Console(argv, os.path.join(LOGS, log_name))
    try:
        c.expect(PROMPT, timeout, 'the shell prompt')
    except BaseException:
        c.close()
        raise
    return c, time.monotonic() - t0


def power_off(c):
    c.send('poweroff -f\n')
    try:
        c.wait_exit(120)
    finally:
        c.close()


def timed(c, cmd, tag, timeout=900):
    """Run cmd in the guest; its duration by the guest's /proc/uptime (10 ms resolution)."""
    out = c.run('a=$(cut -d" " -f1 /proc/uptime); %s; b=$(cut -d" " -f1 /proc/uptime); echo "T=$a,$b"'
                % cmd, timeout, tag)
    m = re.search(r'T=([0-9.]+),([0-9.]+)', out)
    if not m:
        raise GuestFailure('%s: no timing in %r' % (tag, out[-200:]))
    return max(float(m.group(2)) - float(m.group(1)), 0.01), out


def alternate(variants, runs, one, label):
    """Call one(kind, binary, i) -> {metric: value} for i in range(runs), cycling through the
    variants [(kind, binary)] within each i; returns {kind: [results]} (failed runs left out,
    with a line on stderr)."""
    results = {kind: [] for kind, _ in variants}
    for i in range(runs):
        for kind, binary in variants:
            print('bench %s: %s run %d/%d' % (label, kind, i + 1, runs), file=sys.stderr)
            try:
                results[kind].append(one(kind, binary, i))
            except (GuestFailure, subprocess.TimeoutExpired, OSError) as e:
                print('bench %s: %s failed: %s' % (label, kind, e), file=sys.stderr)
    return results


def median_of(results, kind, key):
    """The median of key over kind's runs (each a dict, or a list of values under key)."""
    vals = []
    for r in results.get(kind, []):
        v = r.get(key)
        vals.extend(v if isinstance(v, list) else [] if v is None else [v])
    return statistics.median(vals) if vals else None


def table(title, columns, rows, results):
    """A text table: rows [(key, label)] by columns [(kind, heading)], medians of results."""
    widths = [max(12, len(h)) + 2 for _, h in columns]
    lines = [title, '%-34s' % 'metric' + ''.join('%*s' % (w, h) for w, (_, h) in zip(widths, columns))]
    for key, label in rows:
        cells = []
        for w, (kind, _) in zip(widths, columns):
            v = median_of(results, kind, key)
            cells.append('%*s' % (w, '%.2f' % v if v is not None else 'failed'))
        lines.append('%-34s' % label + ''.join(cells))
    return '\n'.join(lines)


def save(name, text, results):
    """Print text and write it to bench/results/NAME-latest.txt, results to NAME-latest.json."""
    print(text)
    out = os.path.join(ROOT, 'bench', 'results')
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, '%s-latest.txt' % name), 'w') as f:
        f.write(text + '\n')
    with open(os.path.join(out, '%s-latest.json' % name), 'w') as f:
        json.dump(results, f, indent=1)
