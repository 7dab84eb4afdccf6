#!/usr/bin/env python3
"""Network benchmark (part of `make bench`): pcvm and qemu-system-i386 (TCG) side by side, with
e1000 and with virtio-net-pci, each booting Debian's 686 kernel (bench.py's machine, see
guestbench.py) with the card's module in a busybox initramfs on
`-netdev user,id=n0,hostfwd=tcp:127.0.0.1:P-:80 -device e1000|virtio-net-pci,netdev=n0`.
Per emulator, card and run (one boot each; the four alternate within a run):
  - host -> guest: the guest's busybox wget fetches 64 MiB from a python3 http.server on the
    host (10.0.2.2) into /dev/null;
  - guest -> host: curl on the host fetches 64 MiB that busybox httpd in the guest serves
    (a tmpfs file) through the forwarded port;
  - round trip: curl fetches a 20-byte page through the forwarded port, 20 times; the median.
Throughput is 64 MiB over the host's wall time of the transfer.  Results: a table on stdout and
bench/results/net-latest.txt (+ .json).
  BENCH_NET_RUNS=N  runs per emulator and card (default 1), BENCH_NET_PORT=P base port (default 44090)
  BENCH_NET_NICS=e1000,virtio-net-pci  the cards (default both)
"""
import os
import statistics
import subprocess
import sys
import tempfile
import time

from guestbench import MIB, alternate, boot, emulators, linux_argv, power_off, save, table
from console import GuestFailure

SIZE = 64 * MIB
BASE = int(os.environ.get('BENCH_NET_PORT', '44090'))
MODULES = {'e1000': 'e1000',
           'virtio-net-pci': 'virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci '
                             'failover net_failover virtio_net'}


def run_one(emu, nic, fwd_port, log_name):
    c, _ = boot(linux_argv(emu, MODULES[nic], ['-netdev', 'user,id=n0,hostfwd=tcp:127.0.0.1:%d-:80' % fwd_port,
                                               '-device', '%s,netdev=n0' % nic]), log_name)
    try:
        c.run('for i in $(seq 30); do [ -e /sys/class/net/eth0 ] && break; sleep 1; done; '
              'ifconfig eth0 10.0.2.15 netmask 255.255.255.0 up; route add default gw 10.0.2.2', 300, 'net')
        t0 = time.monotonic()
        out = c.run('wget -q -O /dev/null http://10.0.2.2:%d/blob && echo WGET-OK' % BASE, 900, 'wget')
        down = time.monotonic() - t0
        if 'WGET-OK' not in out:
            raise GuestFailure('%s: wget from the host failed: %r' % (log_name, out[-300:]))
        c.run('mkdir -p /www && dd if=/dev/zero of=/www/blob bs=1048576 count=64 2>/dev/null && '
              'echo pcvm-bench-small-page > /www/small && httpd -p 80 -h /www', 300, 'httpd')
        t0 = time.monotonic()
        r = subprocess.run(['curl', '-s', '-o', '/dev/null', '-w', '%{size_download}',
                            'http://127.0.0.1:%d/blob' % fwd_port], stdout=subprocess.PIPE, text=True, timeout=900)
        up = time.monotonic() - t0
        if r.stdout.strip() != str(SIZE):
            raise GuestFailure('%s: curl got %s bytes from the guest' % (log_name, r.stdout.strip()))
        rtts = []
        for _ in range(20):
            t0 = time.monotonic()
            r = subprocess.run(['curl', '-s', 'http://127.0.0.1:%d/small' % fwd_port],
                               stdout=subprocess.PIPE, text=True, timeout=60)
            rtts.append(time.monotonic() - t0)
            if 'pcvm-bench-small-page' not in r.stdout:
                raise GuestFailure('%s: small page: %r' % (log_name, r.stdout))
        return {'host_to_guest_MiBps': SIZE / MIB / down, 'guest_to_host_MiBps': SIZE / MIB / up,
                'rtt_ms': statistics.median(rtts) * 1000}
    finally:
        power_off(c)


def main():
    runs = int(os.environ.get('BENCH_NET_RUNS', '1'))
    nics = os.environ.get('BENCH_NET_NICS', 'e1000,virtio-net-pci').split(',')
    variants = [('%s %s' % (kind, nic), (emu, nic, BASE + 1 + i))
                for i, (nic, (kind, emu)) in enumerate((n, e) for n in nics for e in emulators())]
    tmp = tempfile.mkdtemp(prefix='pcvm-bench-net-')
    with open(os.path.join(tmp, 'blob'), 'wb') as f:
        f.write(os.urandom(SIZE))
    server = subprocess.Popen([sys.executable, '-m', 'http.server', str(BASE), '--bind', '127.0.0.1',
                               '--directory', tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        results = alternate(variants, runs, lambda kind, v, i: run_one(v[0], v[1], v[2],
                            'net-%s.log' % kind.replace(' ', '-')), 'net')
    finally:
        server.kill()
        server.wait()
        subprocess.run(['rm', '-rf', tmp])
    text = table('Network over user networking, 64 MiB each way (median of %d run(s), one boot each; '
                 'RTT: lower is better)' % runs, [(k, k) for k, _ in variants],
                 [('host_to_guest_MiBps', 'host -> guest MiB/s'), ('guest_to_host_MiBps', 'guest -> host MiB/s'),
                  ('rtt_ms', 'small request RTT ms')], results)
    save('net', text, results)
    return 0 if any(results.get('pcvm %s' % n) for n in nics) else 1


if __name__ == '__main__':
    sys.exit(main())
