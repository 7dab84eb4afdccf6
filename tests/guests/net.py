#!/usr/bin/env python3
"""Networking over the e1000 and user networking (libslirp), one Linux boot for every check.

The command line is the GNU/Hurd box's form, `-netdev user,id=net0,hostfwd=tcp::P1-:22,
hostfwd=tcp::P2-:80 -device e1000,netdev=net0`, with ports from PCVM_NET_PORT_BASE (default
44000) instead of 2222/8080.  Debian's e1000 module is loaded from the busybox initramfs, then:
  - the kernel log shows the card at 8086:100e with QEMU's first MAC 52:54:00:12:34:56 and
    "NIC Link is Up 1000 Mbps Full Duplex";
  - busybox udhcpc gets a lease (10.0.2.15, router 10.0.2.2) from libslirp's DHCP server;
  - wget fetches a 1 MiB file of random bytes from a python3 http.server on the host through
    10.0.2.2 and its sha256 matches the host's;
  - busybox httpd in the guest serves a page with a random token, read on the host with curl
    through the hostfwd port;
  - the monitor (on a unix socket, as the Hurd box has it): `info network` lists the card and
    both forwarded ports; `hostfwd_add` opens a third port that curl reaches the guest page
    through, `hostfwd_remove` closes it again; `set_link e1000.0 off`/`on` makes the guest's
    driver report the link down and up;
  - poweroff -f ends the emulator with status 0;
  - the pcap from `-object filter-dump,id=f0,netdev=net0,file=...` is read back by tcpdump and
    holds the DHCP exchange (request from 52:54:00:12:34:56, reply from 10.0.2.2).
"""
import hashlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from console import GuestFailure, main
from linux import boot_to_shell, check_clean, initramfs, power_off

BASE = int(os.environ.get('PCVM_NET_PORT_BASE', '44000'))
HTTP_PORT, FWD_SSH, FWD_WEB, FWD_ADDED = BASE + 1, BASE + 22, BASE + 80, BASE + 81

DHCP_SCRIPT = ('#!/bin/sh\\n[ "$1" = bound ] || exit 0\\n'
               'ifconfig $interface $ip netmask $subnet up\\n'
               'route add default gw $router\\necho "lease $ip router $router"\\n')


def host_server(root):
    """python3 -m http.server on 127.0.0.1:HTTP_PORT serving root; returns the process."""
    p = subprocess.Popen([sys.executable, '-m', 'http.server', str(HTTP_PORT), '--bind', '127.0.0.1',
                          '--directory', root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        r = subprocess.run(['curl', '-s', '-o', '/dev/null', 'http://127.0.0.1:%d/' % HTTP_PORT])
        if r.returncode == 0:
            return p
        time.sleep(0.1)
    p.kill()
    raise GuestFailure('the host web server did not start on port %d' % HTTP_PORT)


class Monitor:
    """HMP over a unix socket: one command at a time, output up to the next prompt."""
    def __init__(self, path):
        for _ in range(100):
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.connect(path)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise GuestFailure('cannot connect to the monitor socket %s' % path)
        self.s.settimeout(30)
        self._until_prompt()

    def _until_prompt(self):
        buf = b''
        while not buf.endswith(b'(qemu) '):
            d = self.s.recv(4096)
            if not d:
                raise GuestFailure('the monitor closed the connection')
            buf += d
        return buf.decode('utf-8', 'replace').replace('\r', '')

    def cmd(self, line):
        self.s.sendall(line.encode() + b'\n')
        out = self._until_prompt()
        return out[:-len('(qemu) ')]


def curl(port):
    return subprocess.run(['curl', '-s', '--max-time', '60', 'http://127.0.0.1:%d/' % port],
                          stdout=subprocess.PIPE, text=True)


def test(log_path, consoles):
    tmp = tempfile.mkdtemp(prefix='pcvm-net-')
    server = None
    try:
        blob = os.urandom(1 << 20)
        with open(os.path.join(tmp, 'blob.bin'), 'wb') as f:
            f.write(blob)
        want_sum = hashlib.sha256(blob).hexdigest()
        server = host_server(tmp)
        mon_path, pcap = os.path.join(tmp, 'mon.sock'), os.path.join(tmp, 'net0.pcap')
        c = boot_to_shell(log_path, consoles,
                          ['-netdev', 'user,id=net0,hostfwd=tcp::%d-:22,hostfwd=tcp::%d-:80' % (FWD_SSH, FWD_WEB),
                           '-device', 'e1000,netdev=net0', '-monitor', 'unix:%s,server,nowait' % mon_path,
                           '-object', 'filter-dump,id=f0,netdev=net0,file=%s' % pcap],
                          append='console=ttyS0 loglevel=7', initrd=initramfs('e1000'))
        problems = []
        dmesg = c.run('dmesg | grep -i e1000', 60, 'dmesg-e1000')
        if not re.search(r'e1000 0000:00:0\d\.0 eth0: \(PCI:33MHz:32-bit\) 52:54:00:12:34:56', dmesg):
            problems.append('the kernel did not report eth0 with MAC 52:54:00:12:34:56: %r' % dmesg.strip()[-300:])
        c.run("printf '%s' > /tmp/dhcp.sh; chmod +x /tmp/dhcp.sh; ifconfig eth0 up" % DHCP_SCRIPT, 60, 'up')
        out = c.run('udhcpc -i eth0 -n -q -t 10 -s /tmp/dhcp.sh', 180, 'dhcp')
        if not re.search(r'lease 10\.0\.2\.15 router 10\.0\.2\.2', out):
            raise GuestFailure('no DHCP lease: %r' % out.strip()[-400:])
        link = c.run('dmesg | grep "Link is Up"', 60, 'link')
        if 'e1000: eth0 NIC Link is Up 1000 Mbps Full Duplex' not in link:
            problems.append('no "e1000: eth0 NIC Link is Up 1000 Mbps Full Duplex" in dmesg')
        out = c.run('wget -q -O /tmp/blob.bin http://10.0.2.2:%d/blob.bin && sha256sum /tmp/blob.bin'
                    % HTTP_PORT, 600, 'wget')
        m = re.search(r'^([0-9a-f]{64})\s+/tmp/blob\.bin', out, re.M)
        if not m:
            problems.append('wget from the host failed: %r' % out.strip()[-300:])
        elif m.group(1) != want_sum:
            problems.append('the fetched file has sha256 %s, the host has %s' % (m.group(1), want_sum))
        token = secrets.token_hex(8)
        c.run('mkdir -p /www && echo "pcvm guest page %s" > /www/index.html && httpd -p 80 -h /www'
              % token, 180, 'httpd')
        page = curl(FWD_WEB)
        if ('pcvm guest page %s' % token) not in page.stdout:
            problems.append('curl through hostfwd port %d got %r (exit %d)' %
                            (FWD_WEB, page.stdout[:200], page.returncode))
        mon = Monitor(mon_path)
        info = mon.cmd('info network')
        for want in ('e1000.0: index=0,type=nic,model=e1000,macaddr=52:54:00:12:34:56',
                     'net0: index=0,type=user,net=10.0.2.0,restrict=off',
                     'hostfwd=tcp::%d-:22' % FWD_SSH, 'hostfwd=tcp::%d-:80' % FWD_WEB):
            if want not in info:
                problems.append('info network lacks %r: %r' % (want, info))
        out = mon.cmd('hostfwd_add net0 tcp::%d-:80' % FWD_ADDED)
        page = curl(FWD_ADDED)
        if ('pcvm guest page %s' % token) not in page.stdout:
            problems.append('hostfwd_add (%r): curl on port %d got %r' % (out.strip(), FWD_ADDED, page.stdout[:200]))
        out = mon.cmd('hostfwd_remove net0 tcp::%d' % FWD_ADDED)
        if curl(FWD_ADDED).returncode == 0:
            problems.append('port %d still answers after hostfwd_remove (%r)' % (FWD_ADDED, out.strip()))
        mon.cmd('set_link e1000.0 off')
        c.expect(r'e1000: eth0 NIC Link is Down', 60, 'the guest seeing set_link off')
        mon.cmd('set_link e1000.0 on')
        c.expect(r'e1000: eth0 NIC Link is Up', 60, 'the guest seeing set_link on')
        full = c.run('dmesg', 120, 'dmesg')
        for check in (lambda: check_clean(full, 'the kernel log (dmesg)'), lambda: power_off(c)):
            try:
                check()
            except GuestFailure as e:
                problems.append(str(e))
        dump = subprocess.run(['tcpdump', '-n', '-e', '-r', pcap], stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
        if not re.search(r'52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff.*0\.0\.0\.0\.68 > 255\.255\.255\.255\.67: BOOTP/DHCP, Request',
                         dump.stdout) or not re.search(r'10\.0\.2\.2\.67 > \S+: BOOTP/DHCP, Reply', dump.stdout):
            problems.append('tcpdump -r %s shows no DHCP exchange (exit %d): %r' %
                            (pcap, dump.returncode, dump.stdout[:400]))
        if problems:
            raise GuestFailure('; '.join(problems))
    finally:
        if server:
            server.kill()
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main(test)
