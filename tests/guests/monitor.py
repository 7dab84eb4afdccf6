#!/usr/bin/env python3
"""The monitor as scripts use it, on Linux with -smp 2, a qcow2 disk and a CD (one boot):

QMP over a unix socket (-qmp unix:...,server,nowait), with Python's json module as the client:
the greeting (version 7.x, capabilities), qmp_capabilities, query-status, stop and cont with
their STOP and RESUME events, query-cpus-fast (two CPUs), query-block (the qcow2 disk and the
CD), query-pci, HMP passthrough (human-monitor-command), CommandNotFound for an unknown command,
`id` echoed; a second QMP monitor on -chardev socket + -mon mode=control,pretty=on.
HMP over -chardev socket + -mon (wait=off): the banner and prompt on each connect, info pci,
info block, info cpus, info mtree, `xp` of the BIOS's last 16 bytes equal to the file's, `x`
and gva2gpa through the guest's page tables (the kernel code's virtual address in the direct
map gives the physical address /proc/iomem names, with the same bytes; the gap above low
memory is unmapped), `p $eax + 1`, eject and change of
the CD with the guest reading the new medium's volume id (DEVICE_TRAY_MOVED events), sendkey
(the guest's keyboard event device sees it), commit of the -snapshot disk (qemu-img reads
the guest's write from the image afterwards), then system_powerdown: POWERDOWN, the guest's
power-button watcher powers off, SHUTDOWN (guest-shutdown) and exit status 0.
A second, short boot with -device pvpanic -action panic=exit-failure: `echo c >
/proc/sysrq-trigger` gives GUEST_PANICKED and a failing exit status.
"""
import json
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

from console import Console, GuestFailure, cache_dir, emulator, main, time_scale
from linux import ROOT, initramfs

MODULES = ('scsi_common scsi_mod libata ata_piix crct10dif_common crct10dif_generic crc-t10dif crc64 '
           'crc64-rocksoft t10-pi sd_mod cdrom sr_mod evdev button pvpanic pvpanic-mmio')
BIOS = '/usr/share/seabios/bios-256k.bin'


class Qmp:
    """A QMP client: one JSON object per line, events kept aside."""

    def __init__(self, path, timeout=60):
        deadline = time.monotonic() + timeout * time_scale()
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise GuestFailure('cannot connect to the QMP socket %s' % path)
                time.sleep(0.2)
        self.buf = b''
        self.events = []
        self.next_id = 1

    def read(self, timeout=60):
        deadline = time.monotonic() + timeout * time_scale()
        dec = json.JSONDecoder()
        while True:
            text = self.buf.decode('utf-8', 'replace').lstrip()
            if text:
                try:
                    obj, end = dec.raw_decode(text)
                    self.buf = text[end:].encode()
                    return obj
                except ValueError:
                    pass
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestFailure('QMP: no complete reply within %.0f s (got %r)' %
                                   (timeout * time_scale(), self.buf[-200:]))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise GuestFailure('QMP: the socket closed (got %r)' % self.buf[-200:])
            self.buf += data

    def cmd(self, name, args=None, timeout=60):
        """Run a command; returns the whole reply (with 'return' or 'error')."""
        req = {'execute': name, 'id': self.next_id}
        self.next_id += 1
        if args is not None:
            req['arguments'] = args
        self.sock.sendall(json.dumps(req).encode() + b'\n')
        while True:
            msg = self.read(timeout)
            if 'event' in msg:
                self.events.append(msg)
                continue
            if msg.get('id') != req['id']:
                raise GuestFailure('QMP: reply %r does not echo id %d' % (msg, req['id']))
            return msg

    def ok(self, name, args=None):
        r = self.cmd(name, args)
        if 'return' not in r:
            raise GuestFailure('QMP %s failed: %r' % (name, r))
        return r['return']

    def wait_event(self, name, timeout=60):
        deadline = time.monotonic() + timeout * time_scale()
        while True:
            for i, ev in enumerate(self.events):
                if ev['event'] == name:
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestFailure('QMP: no %s event within %.0f s (events: %r)' %
                                   (name, timeout * time_scale(), self.events))
            msg = self.read(left / time_scale())
            if 'event' not in msg:
                raise GuestFailure('QMP: unexpected %r while waiting for %s' % (msg, name))
            self.events.append(msg)


class Hmp:
    """An HMP client on a socket: commands end at the next "(qemu) " prompt."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(path)
        self.greeting = self._until_prompt()

    def _until_prompt(self, timeout=60):
        data = b''
        deadline = time.monotonic() + timeout * time_scale()
        while not data.endswith(b'(qemu) '):
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestFailure('HMP: no "(qemu) " prompt within %.0f s (got %r)' %
                                   (timeout * time_scale(), data[-200:]))
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise GuestFailure('HMP: the socket closed (got %r)' % data[-200:])
            data += chunk
        return data.decode('utf-8', 'replace').replace('\r\n', '\n')

    def cmd(self, line):
        self.sock.sendall(line.encode() + b'\r')
        out = self._until_prompt()
        # the echoed command line first, the prompt last
        return out.split('\n', 1)[1][:-len('(qemu) ')] if '\n' in out else ''

    def close(self):
        self.sock.close()


def make_iso(path, label, work):
    d = os.path.join(work, 'iso-' + label)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'readme.txt'), 'w') as f:
        f.write('pcvm monitor test CD %s\n' % label)
    r = subprocess.run(['xorriso', '-as', 'mkisofs', '-quiet', '-V', label, '-o', path, d],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise GuestFailure('xorriso failed: %s' % r.stdout[-300:])


def volume_id(c, tag):
    """What the guest reads as the CD's volume id (or its error)."""
    out = c.run('dd if=/dev/sr0 bs=2048 skip=16 count=1 2>&1 | grep -a -o "PCVMCD[0-9]" '
                '|| echo NO-VOLUME', 120, tag)
    m = re.search(r'^(PCVMCD\d|NO-VOLUME)\s*$', out, re.M)
    return m.group(1) if m else out.strip()


def check(problems, cond, what):
    if not cond:
        problems.append(what)


def main_boot(log_path, consoles, work, initrd):
    disk = os.path.join(work, 'disk.qcow2')
    r = subprocess.run([os.path.join(ROOT, 'pcvm-img'), 'create', '-q', '-f', 'qcow2', disk, '64M'],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise GuestFailure('pcvm-img create failed: %s' % r.stdout)
    cd1, cd2 = os.path.join(work, 'cd1.iso'), os.path.join(work, 'cd2.iso')
    make_iso(cd1, 'PCVMCD1', work)
    make_iso(cd2, 'PCVMCD2', work)
    qmp_path, qmp2_path, hmp_path = (os.path.join(work, n) for n in ('qmp.sock', 'qmp2.sock', 'hmp.sock'))
    argv = [emulator(), '-m', '256', '-smp', '2',
            '-kernel', os.path.join(cache_dir(), 'guests', 'vmlinuz-686'), '-initrd', initrd,
            '-append', 'console=ttyS0', '-nographic',
            '-drive', 'file=%s,format=qcow2,if=ide,index=0,snapshot=on' % disk, '-cdrom', cd1,
            '-qmp', 'unix:%s,server,nowait' % qmp_path,
            '-chardev', 'socket,id=qmp2,path=%s,server=on,wait=off' % qmp2_path,
            '-mon', 'chardev=qmp2,mode=control,pretty=on',
            '-chardev', 'socket,id=hmp0,path=%s,server=on,wait=off' % hmp_path,
            '-mon', 'chardev=hmp0,mode=readline']
    c = Console(argv, log_path)
    consoles.append(c)
    problems = []
    q = Qmp(qmp_path)
    greeting = q.read()
    ver = greeting.get('QMP', {}).get('version', {}).get('qemu', {})
    check(problems, ver.get('major') == 7 and 'capabilities' in greeting.get('QMP', {}),
          'QMP greeting %r' % greeting)
    r = q.cmd('query-status')
    check(problems, r.get('error', {}).get('class') == 'CommandNotFound',
          'a command before qmp_capabilities gave %r' % r)
    q.ok('qmp_capabilities')
    c.expect(r'BOOT-OK', 600, 'the initramfs marker BOOT-OK')
    c.expect(r'pcvm:[^\n]*# ', 120, 'the shell prompt')
    # Watchers for later (started now so they are surely reading by then): a key on the
    # keyboard's event device, and the ACPI power button, which powers the guest off.
    c.run('for e in /sys/class/input/event*; do n=$(cat $e/device/name); '
          'case "$n" in *Power*) pb=/dev/input/${e##*/};; *keyboard*) kb=/dev/input/${e##*/};; esac; done; '
          '(head -c 16 $kb >/dev/null && echo KEYS-SEEN) & '
          '(head -c 16 $pb >/dev/null && echo POWER-BUTTON && poweroff -f) & true', 60, 'watchers')

    # QMP
    st = q.ok('query-status')
    check(problems, st.get('status') == 'running' and st.get('running') is True,
          'query-status %r' % st)
    q.ok('stop')
    q.wait_event('STOP')
    st = q.ok('query-status')
    check(problems, st.get('status') == 'paused', 'query-status after stop: %r' % st)
    q.ok('cont')
    q.wait_event('RESUME')
    cpus = q.ok('query-cpus-fast')
    check(problems, [x.get('cpu-index') for x in cpus] == [0, 1], 'query-cpus-fast: %r' % cpus)
    blocks = {b['device']: b for b in q.ok('query-block')}
    hd = blocks.get('ide0-hd0', {}).get('inserted', {})
    check(problems, hd.get('drv') == 'qcow2' and hd.get('file') == disk,
          'query-block ide0-hd0: %r' % blocks.get('ide0-hd0'))
    cd = blocks.get('ide1-cd0', {})
    check(problems, cd.get('removable') is True and cd.get('inserted', {}).get('file') == cd1 and
          cd.get('inserted', {}).get('ro') is True, 'query-block ide1-cd0: %r' % cd)
    pci = q.ok('query-pci')
    ids = {(d['id']['vendor'], d['id']['device']) for d in pci[0]['devices']}
    check(problems, (0x8086, 0x7010) in ids and (0x8086, 0x1237) in ids, 'query-pci ids %r' % ids)
    out = q.ok('human-monitor-command', {'command-line': 'info status'})
    check(problems, out == 'VM status: running\r\n', 'HMP passthrough gave %r' % out)
    r = q.cmd('no-such-command')
    check(problems, r.get('error', {}).get('class') == 'CommandNotFound',
          'an unknown command gave %r' % r)
    # the pretty QMP monitor on -chardev/-mon
    s2 = socket.socket(socket.AF_UNIX)
    s2.connect(qmp2_path)
    s2.settimeout(30 * time_scale())
    g2 = b''
    while b'\r\n}\r\n' not in g2:
        chunk = s2.recv(4096)
        if not chunk:
            break
        g2 += chunk
    check(problems, g2.startswith(b'{\r\n    "QMP": {'), 'the pretty QMP greeting: %r' % g2[:80])
    s2.close()

    # HMP
    h = Hmp(hmp_path)
    check(problems, 'monitor' in h.greeting and h.greeting.endswith('(qemu) '),
          'HMP greeting %r' % h.greeting)
    h.close()
    h = Hmp(hmp_path)   # a second client is greeted too
    out = h.cmd('info pci')
    check(problems, 'IDE controller: PCI device 8086:7010' in out and
          'Host bridge: PCI device 8086:1237' in out, 'info pci:\n%s' % out)
    out = h.cmd('info block')
    check(problems, re.search(r'^ide0-hd0: .*disk\.qcow2 \(qcow2\)$', out, re.M) and
          re.search(r'^ide1-cd0: .*cd1\.iso \(raw, read-only\)$', out, re.M) and
          'Removable device: not locked, tray closed' in out, 'info block:\n%s' % out)
    out = h.cmd('info cpus')
    check(problems, re.search(r'^\* CPU #0:', out, re.M) and re.search(r'^  CPU #1:', out, re.M),
          'info cpus:\n%s' % out)
    out = h.cmd('info mtree')
    check(problems, 'address-space: memory' in out and 'pc.ram' in out, 'info mtree:\n%s' % out)
    with open(BIOS, 'rb') as f:
        last = f.read()[-16:]
    out = h.cmd('xp /16xb 0xfffffff0')
    got = bytes(int(v, 16) for v in re.findall(r'0x([0-9a-f]{2})\b', out))
    check(problems, got == last and out.startswith('00000000fffffff0:'),
          'xp of the BIOS\'s last 16 bytes: %r, the file has %s' % (out, last.hex()))
    # The kernel's code through its page tables: the direct map puts physical P at
    # 0xc0000000 + P (3G/1G split); the gap above low memory is unmapped.
    iomem = c.run('grep "Kernel code" /proc/iomem', 60, 'iomem')
    m = re.search(r'([0-9a-f]+)-[0-9a-f]+ : Kernel code', iomem)
    if not m:
        problems.append('no "Kernel code" in /proc/iomem: %r' % iomem)
    else:
        pa = int(m.group(1), 16)
        va = 0xc0000000 + pa
        out = h.cmd('gva2gpa 0x%x' % (va + 0x123))
        check(problems, out.strip() == 'gpa: %#x' % (pa + 0x123),
              'gva2gpa 0x%x: %r (expected gpa: %#x)' % (va + 0x123, out, pa + 0x123))
        xv = h.cmd('x /8xw 0x%x' % va)
        xpv = h.cmd('xp /8xw 0x%x' % pa)
        words_v = re.findall(r' 0x([0-9a-f]{8})', xv)
        words_p = re.findall(r' 0x([0-9a-f]{8})', xpv)
        check(problems, len(words_v) == 8 and words_v == words_p and words_v != ['00000000'] * 8,
              'x at 0x%x and xp at 0x%x differ: %r / %r' % (va, pa, xv, xpv))
        check(problems, xv.startswith('%08x:' % va), 'x prints %r' % xv)
    out = h.cmd('gva2gpa 0xd0400000')
    check(problems, out.strip() == 'Unmapped', 'gva2gpa of the gap above low memory: %r' % out)
    out = h.cmd('p $eax + 1')
    check(problems, re.match(r'^0x[0-9a-f]+$', out.strip()) is not None, 'p $eax + 1: %r' % out)

    # CD: eject and change, the guest reads the new medium
    vid = volume_id(c, 'cd-a')
    check(problems, vid == 'PCVMCD1', 'the guest reads %r from the first CD' % vid)
    out = h.cmd('eject ide1-cd0')
    check(problems, out == '', 'eject printed %r' % out)
    ev = q.wait_event('DEVICE_TRAY_MOVED')
    check(problems, ev['data'] == {'device': 'ide1-cd0', 'id': '', 'tray-open': True},
          'DEVICE_TRAY_MOVED after eject: %r' % ev)
    vid = volume_id(c, 'cd-b')
    check(problems, vid == 'NO-VOLUME', 'after eject the guest still reads %r' % vid)
    q.ok('blockdev-change-medium', {'device': 'ide1-cd0', 'filename': cd2, 'format': 'raw'})
    # the guest may have closed the empty tray meanwhile (Linux does when it opens sr0): the
    # change ends with the tray closed either way
    ev = q.wait_event('DEVICE_TRAY_MOVED')
    while ev['data']['tray-open'] is not False:
        ev = q.wait_event('DEVICE_TRAY_MOVED')
    vid = volume_id(c, 'cd-c')
    check(problems, vid == 'PCVMCD2', 'after blockdev-change-medium the guest reads %r' % vid)
    out = h.cmd('change ide1-cd0 %s raw' % cd1)
    check(problems, out == '', 'change printed %r' % out)
    vid = volume_id(c, 'cd-d')
    check(problems, vid == 'PCVMCD1', 'after HMP change the guest reads %r' % vid)
    r = q.cmd('eject', {'device': 'nosuch'})
    check(problems, r.get('error', {}).get('class') == 'DeviceNotFound', 'eject nosuch: %r' % r)

    # -snapshot: the guest's write stays in the overlay until commit writes it to the image
    out = c.run('[ -b /dev/sda ] && printf PCVM-COMMIT-MARK | dd of=/dev/sda bs=512 seek=100 '
                'conv=notrunc,fsync 2>&1 && echo 3 > /proc/sys/vm/drop_caches && '
                'dd if=/dev/sda bs=512 skip=100 count=1 2>/dev/null | head -c 16', 120, 'write-mark')
    check(problems, 'PCVM-COMMIT-MARK' in out, 'the guest wrote the mark but reads %r' % out)
    out = h.cmd('commit ide0-hd0')
    check(problems, out == '', 'commit printed %r' % out)
    out = h.cmd('commit ide1-cd0')
    check(problems, out.startswith('Error: '), 'commit of the CD printed %r' % out)

    # sendkey reaches the guest's keyboard; the power button powers it off
    out = h.cmd('sendkey a')
    check(problems, out == '', 'sendkey printed %r' % out)
    try:
        c.expect(r'KEYS-SEEN', 60, 'the guest seeing the key from sendkey')
    except GuestFailure as e:
        problems.append('%s (input devices: %s)' % (e, c.run(
            'cat /sys/class/input/event*/device/name; grep i8042 /proc/interrupts', 60, 'inputs')))
    h.close()
    q.ok('system_powerdown')
    q.wait_event('POWERDOWN')
    ev = q.wait_event('SHUTDOWN', 120)
    check(problems, ev.get('data') == {'guest': True, 'reason': 'guest-shutdown'},
          'SHUTDOWN after the power button: %r' % ev)
    status = c.wait_exit(120)
    check(problems, status == 0, 'exit status %s after system_powerdown, expected 0' % status)
    raw = os.path.join(work, 'disk.raw')
    r = subprocess.run(['qemu-img', 'convert', '-f', 'qcow2', '-O', 'raw', disk, raw],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        problems.append('qemu-img convert of the committed image failed: %s' % r.stdout)
    else:
        with open(raw, 'rb') as f:
            f.seek(100 * 512)
            got = f.read(16)
        check(problems, got == b'PCVM-COMMIT-MARK', 'after commit the image holds %r at '
              'sector 100 (qemu-img convert), expected the guest\'s write' % got)
    return problems


def panic_boot(log_path, consoles, work, initrd):
    qmp_path = os.path.join(work, 'qmp-panic.sock')
    argv = [emulator(), '-m', '256', '-kernel', os.path.join(cache_dir(), 'guests', 'vmlinuz-686'),
            '-initrd', initrd, '-append', 'console=ttyS0', '-nographic', '-device', 'pvpanic',
            '-action', 'panic=exit-failure', '-qmp', 'unix:%s,server,nowait' % qmp_path]
    c = Console(argv, log_path.replace('.log', '-panic.log'))
    consoles.append(c)
    problems = []
    q = Qmp(qmp_path)
    q.read()
    q.ok('qmp_capabilities')
    c.expect(r'pcvm:[^\n]*# ', 600, 'the shell prompt')
    c.send('echo c > /proc/sysrq-trigger\n')
    ev = q.wait_event('GUEST_PANICKED', 120)
    check(problems, ev.get('data', {}).get('action') == 'poweroff', 'GUEST_PANICKED: %r' % ev)
    status = c.wait_exit(120)
    check(problems, status not in (0, None), 'a panicking guest under -action panic=exit-failure '
          'ended with status %s, expected a failure' % status)
    return problems


def test(log_path, consoles):
    initrd = initramfs(MODULES)
    work = tempfile.mkdtemp(prefix='pcvm-monitor.')
    try:
        problems = main_boot(log_path, consoles, work, initrd)
        problems += panic_boot(log_path, consoles, work, initrd)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if problems:
        raise GuestFailure('; '.join(str(p) for p in problems))


if __name__ == '__main__':
    main(test)
