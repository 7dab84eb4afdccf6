#!/usr/bin/env python3
"""Network benchmark (part of `make bench`): pcvm and qemu-system-i386 (TCG) side by side, each
booting Debian's 686 kernel with the e1000 module in a busybox initramfs on
`-netdev user,hostfwd=tcp:127.0.0.1:P-:80 -device e1000`.  Per emulator and run:
  - host -> guest: the guest's busybox wget fetches 64 MiB from a python3 http.server on the
    host (10.0.2.2) into /dev/null;
  - guest -> host: curl on the host fetches 64 MiB that busybox httpd in the guest serves
    (a tmpfs file) through the forwarded port;
  - round trip: curl fetches a 20-byte page through the forwarded port, 20 times; the median.
Throughput is 64 MiB over the host's wall time of the transfer.  Results: a table on stdout and
bench/results/net-latest.txt (+ .json).
  BENCH_NET_RUNS=N  runs per emulator (default 1), BENCH_NET_PORT=P base port (default 44090)
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'guests'))
from console import Console, GuestFailure, cache_dir  # noqa: E402
from linux import initramfs  # noqa: E402

MIB = 1 << 20
SIZE = 64 * MIB
BASE = int(os.environ.get('BENCH_NET_PORT', '44090'))


def run_one(emu, kind, tmp, runs_log):
    http_port, fwd_port = BASE, BASE + 1 + (kind == 'qemu')
    argv = [emu, '-m', '256', '-kernel', os.path.join(cache_dir(), 'guests', 'vmlinuz-686'),
            '-initrd', initramfs('e1000'), '-append', 'console=ttyS0 quiet', '-nographic',
            '-netdev', 'user,id=n0,hostfwd=tcp:127.0.0.1:%d-:80' % fwd_port, '-device', 'e1000,netdev=n0']
    c = Console(argv, os.path.join(runs_log, 'net-%s.log' % kind))
    try:
        c.expect(r'pcvm:[^\n]*# ', 600, 'the shell prompt')
        c.run('ifconfig eth0 up; udhcpc -i eth0 -n -q -s /tmp/dhcp.sh >/dev/null 2>&1; '
              'ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up; route add default gw 10.0.2.2', 300, 'net')
        t0 = time.monotonic()
        out = c.run('wget -q -O /dev/null http://10.0.2.2:%d/blob && echo WGET-OK' % http_port, 900, 'wget')
        down = time.monotonic() - t0
        if 'WGET-OK' not in out:
            raise GuestFailure('%s: wget from the host failed: %r' % (kind, out[-300:]))
        c.run('mkdir -p /www && dd if=/dev/zero of=/www/blob bs=1048576 count=64 2>/dev/null && '
              'echo pcvm-bench-small-page > /www/small && httpd -p 80 -h /www', 300, 'httpd')
        t0 = time.monotonic()
        r = subprocess.run(['curl', '-s', '-o', '/dev/null', '-w', '%{size_download}',
                            'http://127.0.0.1:%d/blob' % fwd_port], stdout=subprocess.PIPE, text=True, timeout=900)
        up = time.monotonic() - t0
        if r.stdout.strip() != str(SIZE):
            raise GuestFailure('%s: curl got %s bytes from the guest' % (kind, r.stdout.strip()))
        rtts = []
        for _ in range(20):
            t0 = time.monotonic()
            r = subprocess.run(['curl', '-s', 'http://127.0.0.1:%d/small' % fwd_port],
                               stdout=subprocess.PIPE, text=True, timeout=60)
            rtts.append(time.monotonic() - t0)
            if 'pcvm-bench-small-page' not in r.stdout:
                raise GuestFailure('%s: small page: %r' % (kind, r.stdout))
        return {'host_to_guest_MiBps': SIZE / MIB / down, 'guest_to_host_MiBps': SIZE / MIB / up,
                'rtt_ms': statistics.median(rtts) * 1000}
    finally:
        c.close()


def main():
    runs = int(os.environ.get('BENCH_NET_RUNS', '1'))
    emus = [('pcvm', os.environ.get('BENCH_PCVM', os.path.join(ROOT, 'pcvm'))),
            ('qemu', os.environ.get('BENCH_QEMU', 'qemu-system-i386'))]
    tmp = tempfile.mkdtemp(prefix='pcvm-bench-net-')
    with open(os.path.join(tmp, 'blob'), 'wb') as f:
        f.write(os.urandom(SIZE))
    logs = os.path.join(ROOT, 'build', 'bench')
    os.makedirs(logs, exist_ok=True)
    server = subprocess.Popen([sys.executable, '-m', 'http.server', str(BASE), '--bind', '127.0.0.1',
                               '--directory', tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = {}
    try:
        time.sleep(0.5)
        results = {kind: [] for kind, _ in emus}
        for i in range(runs):          # alternate, so a change in the host's load hits both
            for kind, emu in emus:
                print('bench net: %s run %d/%d' % (kind, i + 1, runs), file=sys.stderr)
                try:
                    results[kind].append(run_one(emu, kind, tmp, logs))
                except (GuestFailure, subprocess.TimeoutExpired) as e:
                    print('bench net: %s failed: %s' % (kind, e), file=sys.stderr)
    finally:
        server.kill()
        server.wait()
        subprocess.run(['rm', '-rf', tmp])
    lines = ['Network over e1000 + user networking (median of %d run(s); 64 MiB each way)' % runs,
             '%-28s %12s %12s %8s' % ('metric', 'pcvm', 'qemu', 'ratio')]
    for key, label, better in (('host_to_guest_MiBps', 'host -> guest MiB/s', 'higher'),
                               ('guest_to_host_MiBps', 'guest -> host MiB/s', 'higher'),
                               ('rtt_ms', 'small request RTT ms', 'lower')):
        vals = {k: statistics.median([r[key] for r in v]) if v else None for k, v in results.items()}
        p, q = vals.get('pcvm'), vals.get('qemu')
        ratio = ('%.2f' % (p / q)) if p and q else '-'
        lines.append('%-28s %12s %12s %8s  (%s is better; ratio pcvm/qemu)' %
                     (label, '%.2f' % p if p else 'failed', '%.2f' % q if q else 'failed', ratio, better))
    text = '\n'.join(lines)
    print(text)
    out = os.path.join(ROOT, 'bench', 'results')
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, 'net-latest.txt'), 'w') as f:
        f.write(text + '\n')
    with open(os.path.join(out, 'net-latest.json'), 'w') as f:
        json.dump(results, f, indent=1)
    return 0 if results.get('pcvm') else 1


if __name__ == '__main__':
    sys.exit(main())
