#!/usr/bin/env python3
"""SIGTERM, SIGINT and SIGHUP end pcvm cleanly in every state, with QEMU's exit status
(checked against qemu-system-i386 7.2: a signal while a server chardev waits for its first
client ends the process by that signal; once the machine exists it prints "terminating on
signal N from pid P (program)" and exits 0):
  - waiting for the first client of -monitor unix:PATH,server and -serial tcp::PORT,server:
    killed by the signal, the socket file removed;
  - paused by -S, and by the monitor's `stop`; running (SeaBIOS waiting at "No bootable
    device"): status 0 and the one "terminating on signal" line;
  - on a terminal (stdio in raw mode, -nographic): status 0 and the terminal settings back as
    they were before pcvm started;
  - during disk I/O (a boot sector writing a qcow2 disk with INT 13h in a loop, aio=threads):
    status 0, `qemu-img check` finds the image clean and `qemu-img info` opens it without -U
    (flushed, lock released).
Usage: tests/signals/run.py [pcvm] [pcvm-img]; closing line "signals: N passed, N failed".
Ports: 41090-41091 (loopback)."""
import os
import pty
import re
import signal
import socket
import subprocess
import sys
import tempfile
import termios
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PCVM = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, 'pcvm'))
TMP = tempfile.mkdtemp(prefix='pcvm-signals-')
results = []


def check(name, ok, detail=''):
    results.append(ok)
    print('%s %s%s' % ('PASS' if ok else 'FAIL', name, '' if ok else ': ' + detail))


def wait_for(pred, timeout=30):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def start(args, **kw):
    return subprocess.Popen([PCVM] + args, stdin=kw.pop('stdin', subprocess.DEVNULL),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)


def finish(p, sig, timeout=30):
    p.send_signal(sig)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        return None, out.decode(errors='replace') + ' [did not exit within %d s]' % timeout
    return p.returncode, out.decode(errors='replace')


def catches(p, sig, timeout=30):
    """Wait until pcvm has installed its handler for sig (SigCgt in /proc/PID/status): a
    signal sent earlier under a loaded host would meet the default action instead."""
    def caught():
        try:
            with open('/proc/%d/status' % p.pid) as f:
                for line in f:
                    if line.startswith('SigCgt:'):
                        return int(line.split()[1], 16) >> (sig - 1) & 1
        except OSError:
            pass
        return False
    return wait_for(caught, timeout)


def terminated_ok(rc, out, sig):
    return rc == 0 and out.count('terminating on signal %d' % sig) == 1 and 'from pid %d' % os.getpid() in out


def waiting_for_client():
    path = os.path.join(TMP, 'mon.sock')
    p = start(['-display', 'none', '-monitor', 'unix:%s,server' % path, '-serial', 'none'])
    wait_for(lambda: os.path.exists(path))
    rc, out = finish(p, signal.SIGTERM)
    check('SIGTERM while -monitor unix:PATH,server waits for a client: killed by SIGTERM, socket removed',
          rc == -signal.SIGTERM and not os.path.exists(path), 'status %s, output %r' % (rc, out))
    p = start(['-display', 'none', '-serial', 'tcp:127.0.0.1:41090,server', '-monitor', 'none'])
    time.sleep(0.5)
    rc, out = finish(p, signal.SIGINT)
    check('SIGINT while -serial tcp::PORT,server waits for a client: killed by SIGINT',
          rc == -signal.SIGINT, 'status %s, output %r' % (rc, out))


def paused_and_running():
    p = start(['-display', 'none', '-S', '-monitor', 'none', '-serial', 'none'])
    catches(p, signal.SIGHUP)
    time.sleep(0.2)
    rc, out = finish(p, signal.SIGHUP)
    check('SIGHUP while paused by -S: status 0, one "terminating on signal 1" line',
          terminated_ok(rc, out, signal.SIGHUP), 'status %s, output %r' % (rc, out))

    path = os.path.join(TMP, 'mon2.sock')
    p = start(['-display', 'none', '-monitor', 'unix:%s,server,nowait' % path, '-serial', 'none'])
    stopped = False
    if wait_for(lambda: os.path.exists(path)):
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.sendall(b'stop\ninfo status\n')
        buf = b''
        end = time.monotonic() + 20
        while b'paused' not in buf and time.monotonic() < end:
            s.settimeout(1)
            try:
                buf += s.recv(4096)
            except socket.timeout:
                pass
        stopped = b'paused' in buf
        s.close()
    rc, out = finish(p, signal.SIGTERM)
    check("SIGTERM after the monitor's stop: status 0, one line",
          stopped and terminated_ok(rc, out, signal.SIGTERM), 'stopped %s, status %s, output %r' % (stopped, rc, out))

    p = start(['-nographic', '-m', '32', '-monitor', 'none'])
    catches(p, signal.SIGINT)
    time.sleep(1.5)   # SeaBIOS running (no disk: it retries booting)
    alive = p.poll() is None
    rc, out = finish(p, signal.SIGINT)
    check('SIGINT while running: status 0, one line', alive and terminated_ok(rc, out, signal.SIGINT),
          'status %s, output %r' % (rc, out[-300:]))


def on_a_terminal():
    for sig in (signal.SIGTERM, signal.SIGINT):
        master, slave = pty.openpty()
        before = termios.tcgetattr(slave)
        p = subprocess.Popen([PCVM, '-nographic', '-m', '32'], stdin=slave, stdout=slave,
                             stderr=slave, start_new_session=True)
        raw = wait_for(lambda: termios.tcgetattr(slave)[3] & termios.ICANON == 0, 20)
        catches(p, sig)
        out = b''
        p.send_signal(sig)
        try:
            rc = p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait()
        os.set_blocking(master, False)
        try:
            while True:
                chunk = os.read(master, 65536)
                if not chunk:
                    break
                out += chunk
        except (BlockingIOError, OSError):
            pass
        after = termios.tcgetattr(slave)
        os.close(master)
        os.close(slave)
        text = out.decode(errors='replace')
        check('signal %d on a terminal (-nographic): raw mode while running, status 0, terminal restored' % sig,
              raw and rc == 0 and after == before and text.count('terminating on signal %d' % sig) == 1,
              'raw %s, status %s, restored %s, output %r' % (raw, rc, after == before, text[-200:]))


# A boot sector that writes 64 sectors at a time with INT 13h AH=43h, forever, after printing
# WRITING on COM1.
WRITER = r'''
bits 16
org 0x7c00
    xor ax, ax
    mov ds, ax
    mov ss, ax
    mov sp, 0x7c00
    mov si, msg
.p: lodsb
    test al, al
    jz .w
    mov dx, 0x3f8
    out dx, al
    jmp .p
.w: mov ah, 0x43
    xor al, al
    mov dl, 0x80
    mov si, dap
    int 0x13
    add word [dap + 8], 64
    and word [dap + 8], 0x0fff
    or word [dap + 8], 1
    jmp .w
msg: db "WRITING", 13, 10, 0
dap: db 0x10, 0
     dw 64, 0x0000, 0x1000
     dq 1
times 510 - ($ - $$) db 0
dw 0xaa55
'''


def during_disk_io():
    asm = os.path.join(TMP, 'writer.asm')
    with open(asm, 'w') as f:
        f.write(WRITER)
    mbr = os.path.join(TMP, 'writer.bin')
    disk = os.path.join(TMP, 'disk.qcow2')
    r = subprocess.run(['nasm', '-f', 'bin', '-o', mbr, asm], capture_output=True, text=True)
    r2 = subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-o', 'lazy_refcounts=on', disk, '16M'],
                        capture_output=True, text=True)
    r3 = subprocess.run(['qemu-io', '-f', 'qcow2', '-c', 'write -s %s 0 512' % mbr, disk], capture_output=True, text=True)
    if r.returncode or r2.returncode or r3.returncode:
        check('SIGTERM during disk I/O', False, 'could not build the disk: %s %s %s' % (r.stderr, r2.stderr, r3.stderr))
        return
    p = subprocess.Popen([PCVM, '-m', '32', '-display', 'none', '-serial', 'file:%s' % os.path.join(TMP, 'serial.log'),
                          '-monitor', 'none', '-drive', 'file=%s,format=qcow2,cache=writeback,aio=threads' % disk],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    serial = os.path.join(TMP, 'serial.log')
    writing = wait_for(lambda: os.path.exists(serial) and b'WRITING' in open(serial, 'rb').read(), 60)
    time.sleep(1.0)   # well into the write loop
    rc, out = finish(p, signal.SIGTERM)
    chk = subprocess.run(['qemu-img', 'check', disk], capture_output=True, text=True)
    info = subprocess.run(['qemu-img', 'info', '--output=json', disk], capture_output=True, text=True)
    m = re.search(r'(\d+)/\d+ = [\d.]+% allocated', chk.stdout)
    wrote = bool(m) and int(m.group(1)) > 1   # more than the boot sector's cluster
    check('SIGTERM during disk I/O (qcow2, aio=threads): status 0, image clean, not dirty, unlocked',
          writing and wrote and terminated_ok(rc, out, signal.SIGTERM) and chk.returncode == 0 and
          info.returncode == 0 and '"dirty-flag": false' in info.stdout,
          'writing %s, status %s, output %r, check %d %r, info %d %r' %
          (writing, rc, out[-200:], chk.returncode, chk.stdout[-200:], info.returncode, (info.stdout + info.stderr)[-300:]))


for t in (waiting_for_client, paused_and_running, on_a_terminal, during_disk_io):
    try:
        t()
    except Exception as e:   # one broken case must not hide the others
        check(t.__name__, False, 'exception %r' % e)
subprocess.run(['rm', '-rf', TMP])
print('signals: %d passed, %d failed' % (results.count(True), results.count(False)))
sys.exit(0 if all(results) else 1)
