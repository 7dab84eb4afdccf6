#!/usr/bin/env python3
"""Linux at -smp 4 (one host thread per vCPU, the default) on a pcvm built with
ThreadSanitizer (`make check-tsan` builds build-tsan/pcvm and runs this test with it; not in
make check: the boot takes many minutes).  The kernel brings up four CPUs, four shells pinned
to the four CPUs run loops at once, the shell reads /proc/kallsyms, poweroff -f exits 0, and
ThreadSanitizer reports no race anywhere in the run (tests/tsan.supp lists the accesses that
are the guest's own: its RAM, and interrupt_request by design).  The emulator must be a TSan
build: a plain one would prove nothing, so that is a failure too."""
import os
import re

from console import GuestFailure, main
from linux import boot_to_shell, power_off

HERE = os.path.dirname(os.path.abspath(__file__))


def test(log_path, consoles):
    pcvm = os.environ.get('PCVM', 'pcvm')
    with open(pcvm, 'rb') as f:
        if b'__tsan_init' not in f.read():
            raise GuestFailure('%s is not built with ThreadSanitizer (make check-tsan builds one)' % pcvm)
    os.environ['TSAN_OPTIONS'] = 'suppressions=%s halt_on_error=0 second_deadlock_stack=1' % \
        os.path.join(HERE, '..', 'tsan.supp')
    c = boot_to_shell(log_path, consoles, ['-smp', '4'], boot_timeout=3000)
    problems = []
    if not re.search(r'smp: Brought up 1 node, 4 CPUs', c.text()):
        problems.append('the kernel did not bring up 4 CPUs')
    out = c.run("for cpu in 0 1 2 3; do taskset -c $cpu sh -c 'i=0; while [ $i -lt 300 ]; do "
                "i=$((i+1)); done; echo done-$(cut -d\" \" -f39 /proc/self/stat)' & done; wait",
                1200, 'the pinned loops')
    if sorted(re.findall(r'done-(\d)', out)) != ['0', '1', '2', '3']:
        problems.append('four loops pinned to CPUs 0-3 printed %r' % out.strip()[-200:])
    out = c.run('wc -l < /proc/kallsyms', 1200, 'kallsyms')
    if not re.search(r'^\d{4,}$', out, re.M):
        problems.append('wc -l /proc/kallsyms printed %r' % out.strip()[-200:])
    try:
        power_off(c)
    except GuestFailure as e:
        problems.append(str(e))
    races = [m.start() for m in re.finditer(r'WARNING: ThreadSanitizer', c.text())]
    if races:
        problems.append('ThreadSanitizer reported %d problem(s); the first: %s' %
                        (len(races), c.text()[races[0]:races[0] + 1500]))
    if problems:
        raise GuestFailure('; '.join(problems))


if __name__ == '__main__':
    main(test)
