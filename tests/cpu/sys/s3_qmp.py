#!/usr/bin/env python3
"""S3 through QMP: boots tests/cpu/sys/s3.asm's image (built by run.sh) stopped (-S), checks
system_wakeup is refused while the guest runs, then SUSPEND, query-status "suspended",
`info status` "paused (suspended)", a savevm of the suspended machine (on a qcow2 disk), the
RTC alarm's WAKEUP and the image's PASS. Then the snapshot again in a new process (-loadvm):
still "suspended", and the same alarm wakes it to the same PASS.
Usage: s3_qmp.py [PCVM]   Prints PASS/FAIL; exit 0 on PASS."""
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
pcvm = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, 'pcvm')
image = os.path.join(root, 'build/tests/cpu/sys/s3.bin')


def run(tmp, extra, suspended_at_start):
    """One pcvm; suspended_at_start: it comes up suspended (-loadvm) instead of suspending."""
    sock_path, dc = os.path.join(tmp, 'q.sock'), os.path.join(tmp, 'dc.txt')
    for path in (sock_path, dc):
        if os.path.exists(path):
            os.unlink(path)
    p = subprocess.Popen([pcvm, '-display', 'none', '-m', '64', '-no-reboot', '-kernel', image,
                          '-debugcon', 'file:' + dc, '-device', 'isa-debug-exit,iobase=0xf4,iosize=1',
                          '-drive', 'file=%s,format=qcow2,if=ide' % os.path.join(tmp, 'disk.qcow2'),
                          '-qmp', 'unix:%s,server=on,wait=on' % sock_path] + extra,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(sock_path)
                break
            except OSError:
                time.sleep(0.05)
        else:
            return 'no QMP socket'
        s.settimeout(60)
        f = s.makefile('rw')

        def cmd(c, args=None):
            f.write(json.dumps({'execute': c, 'arguments': args or {}}) + '\n')
            f.flush()
            while True:
                r = json.loads(f.readline())
                if 'event' not in r:
                    return r
                events.append(r['event'])
        events = []
        f.readline()
        cmd('qmp_capabilities')
        if not suspended_at_start:
            r = cmd('system_wakeup')
            if r.get('error', {}).get('desc') != 'Unable to wake up: guest is not in suspended state':
                return 'system_wakeup while running answered %r' % r
            cmd('cont')
            while 'SUSPEND' not in events:
                events.append(json.loads(f.readline()).get('event'))
        r = cmd('query-status')
        if r.get('return', {}).get('status') != 'suspended' or r['return'].get('running'):
            return 'query-status while suspended%s: %r' % (' after -loadvm' if suspended_at_start else '', r)
        r = cmd('human-monitor-command', {'command-line': 'info status'})
        if r.get('return', '').strip() != 'VM status: paused (suspended)':
            return 'info status while suspended: %r' % r
        if not suspended_at_start:
            r = cmd('human-monitor-command', {'command-line': 'savevm s3'})
            if r.get('return', '').strip():
                return 'savevm while suspended: %r' % r
        while 'WAKEUP' not in events:
            line = f.readline()
            if not line:
                return 'no WAKEUP event (events: %s)' % events
            events.append(json.loads(line).get('event'))
        status = p.wait(60)
        out = open(dc).read()
        if status != 1 or 'PASS' not in out:
            return 'the guest ended with status %d: %r' % (status, out[-200:])
        return None
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def main():
    if not os.path.exists(image):
        return 'no %s (run tests/cpu/sys/run.sh first)' % image
    tmp = tempfile.mkdtemp()
    img_tool = os.path.join(os.path.dirname(pcvm), 'pcvm-img')
    subprocess.run([img_tool, 'create', '-f', 'qcow2', os.path.join(tmp, 'disk.qcow2'), '1M'],
                   check=True, stdout=subprocess.DEVNULL)
    why = run(tmp, ['-S'], False)
    if why:
        return why
    why = run(tmp, ['-loadvm', 's3'], True)
    return 'the snapshot of the suspended machine: ' + why if why else None


why = main()
print('FAIL s3 over QMP: %s' % why if why else
      'PASS s3 over QMP: system_wakeup refused while running, SUSPEND, "suspended", WAKEUP by the RTC alarm; '
      'savevm while suspended, -loadvm: "suspended" again and woken by the same alarm')
sys.exit(1 if why else 0)
