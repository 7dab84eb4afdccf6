#!/usr/bin/env python3
"""Linux boot with and without the KVM paravirtual clock (part of `make bench`): pcvm with its
default (kvm-clock offered), pcvm with `-cpu pentium3,kvm=off` (TSC and PIT calibration as on
bare hardware) and qemu-system-i386 (TCG offers no kvm-clock), alternating one boot each per run
on bench.py's machine (see guestbench.py) with the busybox initramfs.  Per boot: the host's wall
time from spawning the emulator to the shell prompt, and the guest's /proc/uptime then; the
clocksource the guest chose is checked (kvm-clock, or not).
Results: the medians in bench/results/kvmclock-latest.txt (+ .json).
  BENCH_KVMCLOCK_RUNS=N  boots per variant (default 3)
"""
import os
import re
import sys

from guestbench import alternate, boot, emulators, linux_argv, power_off, save, table
from console import GuestFailure

VARIANTS = [('pcvm kvm-clock', 'pcvm', 'pentium3', 'kvm-clock'),
            ('pcvm kvm=off', 'pcvm', 'pentium3,kvm=off', 'tsc'),
            ('qemu', 'qemu', 'pentium3', 'tsc')]


def run_one(kind, emu, cpu, want):
    c, wall = boot(linux_argv(emu, cpu=cpu), 'kvmclock-%s.log' % kind.replace(' ', '-').replace('=', '-'))
    try:
        out = c.run('cut -d" " -f1 /proc/uptime; cat /sys/devices/system/clocksource/clocksource0/current_clocksource',
                    120, 'uptime')
    finally:
        power_off(c)
    m = re.search(r'^([0-9.]+)\s*\n\s*(\S+)\s*$', out, re.M)
    if not m:
        raise GuestFailure('%s: no uptime and clocksource in %r' % (kind, out[-200:]))
    if (m.group(2) == 'kvm-clock') != (want == 'kvm-clock'):
        raise GuestFailure('%s: the guest chose the clocksource %s' % (kind, m.group(2)))
    return {'boot_wall_s': wall, 'guest_uptime_s': float(m.group(1)), 'clocksource': m.group(2)}


def main():
    runs = int(os.environ.get('BENCH_KVMCLOCK_RUNS', '3'))
    emus = dict(emulators())
    variants = [(kind, (emus[emu], cpu, want)) for kind, emu, cpu, want in VARIANTS]
    results = alternate(variants, runs, lambda kind, v, i: run_one(kind, *v), 'kvmclock')
    text = table('Linux 6.1 boot to the busybox prompt, -cpu pentium3 (median of %d boots each; lower is better)'
                 % runs, [(k, k) for k, _ in variants],
                 [('boot_wall_s', 'boot to prompt, host wall s'), ('guest_uptime_s', 'guest uptime at prompt s')],
                 results)
    save('kvmclock', text, results)
    return 0 if results.get('pcvm kvm-clock') else 1


if __name__ == '__main__':
    sys.exit(main())
