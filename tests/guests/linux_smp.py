#!/usr/bin/env python3
"""Linux with -smp 2: the kernel brings up the second CPU through INIT/SIPI ("smp: Brought up
1 node, 2 CPUs"), /proc/cpuinfo lists processors 0 and 1, a shell loop pinned to CPU 1 with
taskset runs there (/proc/self/stat field 39), the log is clean and poweroff -f exits 0."""
import re

from console import GuestFailure, main
from linux import boot_to_shell, check_clean, power_off


def test(log_path, consoles):
    c = boot_to_shell(log_path, consoles, ['-smp', '2'], append='console=ttyS0 loglevel=7')
    problems = []
    if not re.search(r'smp: Brought up 1 node, 2 CPUs', c.text()):
        m = re.search(r'smp: Brought up .*', c.text())
        problems.append('the kernel did not bring up 2 CPUs (%s)' % (m.group(0) if m else 'no "smp: Brought up" line'))
    out = c.run('grep -c ^processor /proc/cpuinfo', 60, 'cpuinfo')
    m = re.search(r'^(\d+)$', out, re.M)
    if not m or m.group(1) != '2':
        problems.append('/proc/cpuinfo lists %s processors, expected 2' % (m.group(1) if m else '?'))
    out = c.run("taskset -c 1 sh -c 'i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; "
                "echo loop=$i cpu=$(cut -d\" \" -f39 /proc/self/stat)'", 300, 'taskset')
    if not re.search(r'loop=2000 cpu=1\b', out):
        problems.append('a loop pinned to CPU 1 printed %r' % out.strip())
    dmesg = c.run('dmesg', 120, 'dmesg')
    for check in (lambda: check_clean(dmesg, 'the kernel log (dmesg)'), lambda: power_off(c),
                  lambda: check_clean(c.text(), 'the console log')):
        try:
            check()
        except GuestFailure as e:
            problems.append(str(e))
    if problems:
        raise GuestFailure('; '.join(problems))


if __name__ == '__main__':
    main(test)
