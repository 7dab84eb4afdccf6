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
  - a second card, an RTL8139C+ in the legacy form `-net nic,model=rtl8139 -net user,hostfwd=...`
    (the next MAC, 52:54:00:12:34:57): Debian's 8139too declines it as QEMU's ("enhanced
    8139C+ chip, use 8139cp"), 8139cp binds it (C+ descriptor rings); with the e1000 down it
    gets its own lease, fetches the file again (sha256 checked) and serves the guest page to
    curl through its own hostfwd port;
  - a third card from `-nic user,model=e1000,restrict=on,hostfwd=...,guestfwd=...`: with only it
    up, the guest gets a lease but cannot reach the host's web server (restrict=on), while the
    hostfwd page still answers curl, `guestfwd=tcp:10.0.2.100:1234-cmd:cat FILE` hands nc the
    file (sha256 checked) and `guestfwd=tcp:10.0.2.101:1235-tcp:127.0.0.1:P` joins nc to a
    socket on the host (a line each way);
  - a fourth card, `-device rtl8139,cplus=off` (pcvm's RTL8139C, revision 0x10, no C+
    registers, MAC 52:54:00:12:34:59): 8139too binds it and, the chip having no C+ mode, drives the classic four transmit
    descriptors and the receive ring buffer: a lease, the file again (sha256) and the guest
    page through its hostfwd port;
  - a fifth card, an e1000 with mac=52:54:00:ab:cd:ef on `-netdev user,net=192.168.76.0/24,
    host=,dhcpstart=,dns=,hostname=,domainname=,dnssearch=` (twice): its lease, router, DNS
    server, host and domain names and search list are those, and wget reaches the host's file
    through host= (sha256);
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
import threading
import time

from console import GuestFailure, main
from linux import boot_to_shell, check_clean, initramfs, power_off

BASE = int(os.environ.get('PCVM_NET_PORT_BASE', '44000'))
HTTP_PORT, FWD_SSH, FWD_WEB, FWD_ADDED = BASE + 1, BASE + 22, BASE + 80, BASE + 81
FWD_RTL, FWD_RESTRICT, CHR_PORT, FWD_CLASSIC = BASE + 90, BASE + 91, BASE + 40, BASE + 92

DHCP_SCRIPT = ('#!/bin/sh\\n[ "$1" = bound ] || exit 0\\n'
               'ifconfig $interface $ip netmask $subnet up\\n'
               'route add default gw $router\\necho "lease $ip router $router"\\n'
               'echo "options dns=$dns hostname=$hostname domain=$domain search=$search"\\n')


def host_server(root):
    """python3 -m http.server on 127.0.0.1:HTTP_PORT serving root; returns the process."""
    p = subprocess.Popen([sys.executable, '-m', 'http.server', str(HTTP_PORT), '--bind', '127.0.0.1',
                          '--directory', root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(50):
        r = subprocess.run(['curl', '-s', '-o', '/dev/null', 'http://127.0.0.1:%d/' % HTTP_PORT])
        if p.poll() is not None:
            raise GuestFailure('the host web server could not listen on port %d (in use?)' % HTTP_PORT)
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


def iface_of(c, mac):
    """The guest's name for the card with this MAC (drivers load in their own order)."""
    out = c.run('grep -l %s /sys/class/net/*/address' % mac, 60, 'iface ' + mac)
    m = re.search(r'/sys/class/net/(\w+)/address', out)
    if not m:
        raise GuestFailure('no interface with MAC %s: %r' % (mac, out.strip()[-200:]))
    return m.group(1)


def rtl8139_checks(c, problems, want_sum, token, mac, port, before, classic=False):
    """An RTL8139 on its own user network, with the card `before` down: the C+ chip under
    8139cp, or (classic) the RTL8139C under 8139too."""
    dmesg = c.run('dmesg | grep -i 8139', 60, 'dmesg-8139')
    if classic:
        declined = None       # 8139too, loaded first, takes it before 8139cp could decline it
        bound = r'8139too 0000:00:0\d\.0 eth\d: RealTek RTL8139 at \S+, %s, IRQ \d+' % mac
    else:
        declined = r'8139too 0000:00:0\d\.0: This \(id 10ec:8139 rev 20\) is an enhanced 8139C\+ chip, use 8139cp'
        bound = r'8139cp 0000:00:0\d\.0 eth\d: RTL-8139C\+ at \S+, %s, IRQ \d+' % mac
    what = 'the RTL8139C (8139too)' if classic else 'the RTL8139C+ (8139cp)'
    if declined and not re.search(declined, dmesg):
        problems.append('%s: the other driver did not decline it: %r' % (what, dmesg.strip()[-300:]))
    if not re.search(bound, dmesg):
        problems.append('%s: no card with MAC %s reported: %r' % (what, mac, dmesg.strip()[-300:]))
    eth = iface_of(c, mac)
    c.run('ifconfig %s down; ifconfig %s up' % (before, eth), 60, 'rtl8139 up')
    out = c.run('udhcpc -i %s -n -q -t 10 -s /tmp/dhcp.sh' % eth, 180, 'dhcp rtl8139')
    if not re.search(r'lease 10\.0\.2\.15 router 10\.0\.2\.2', out):
        problems.append('%s: no DHCP lease: %r' % (what, out.strip()[-400:]))
        return
    if not re.search(r'%s: link up, 100Mbps, full-duplex' % eth, c.run('dmesg | grep "link up"', 60, 'link rtl8139')):
        problems.append('%s: no "%s: link up, 100Mbps, full-duplex" in dmesg' % (what, eth))
    out = c.run('rm -f /tmp/blob.bin; wget -q -O /tmp/blob.bin http://10.0.2.2:%d/blob.bin && sha256sum /tmp/blob.bin'
                % HTTP_PORT, 600, 'wget rtl8139')
    m = re.search(r'^([0-9a-f]{64})\s+/tmp/blob\.bin', out, re.M)
    if not m or m.group(1) != want_sum:
        problems.append('wget over %s: %r (want %s)' % (what, out.strip()[-300:], want_sum))
    page = curl(port)
    if ('pcvm guest page %s' % token) not in page.stdout:
        problems.append('curl through the hostfwd port %d of %s got %r (exit %d)' %
                        (port, what, page.stdout[:200], page.returncode))


class ChardevPeer:
    """The host end of the guestfwd chardev: answers the guest's "ping" with a token line."""
    def __init__(self):
        self.token = secrets.token_hex(8)
        self.got = b''
        self.ls = socket.socket()
        self.ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.ls.bind(('127.0.0.1', CHR_PORT))
        self.ls.listen(1)
        self.t = threading.Thread(target=self.serve, daemon=True)
        self.t.start()

    def serve(self):
        self.ls.settimeout(900)
        try:
            conn, _ = self.ls.accept()
            conn.settimeout(900)
            while b'ping' not in self.got:
                d = conn.recv(100)
                if not d:
                    return
                self.got += d
            conn.sendall(b'chardev-reply %s\n' % self.token.encode())
            time.sleep(30)
            conn.close()
        except OSError:
            pass
        finally:
            self.ls.close()


def restrict_checks(c, problems, want_sum, token, chr_server):
    """The third card on a restrict=on user network with hostfwd and guestfwd rules."""
    rtl, eth = iface_of(c, '52:54:00:12:34:57'), iface_of(c, '52:54:00:12:34:58')
    c.run('ifconfig %s down; ifconfig %s up' % (rtl, eth), 60, 'third card up')
    out = c.run('udhcpc -i %s -n -q -t 10 -s /tmp/dhcp.sh' % eth, 180, 'dhcp third card')
    if not re.search(r'lease 10\.0\.2\.15 router\s', out):      # restrict=on offers no router
        problems.append('no DHCP lease on the restrict=on network: %r' % out.strip()[-400:])
        return
    out = c.run('nc -w 5 10.0.2.2 %d </dev/null; echo "nc-rc=$?"' % HTTP_PORT, 120, 'nc restricted')
    if 'nc-rc=1' not in out or not re.search(r"can't connect to remote host \(10\.0\.2\.2\): Connection (refused|timed out)", out):
        problems.append('restrict=on: the guest reached the host web server (or nc failed otherwise): %r'
                        % out.strip()[-200:])
    page = curl(FWD_RESTRICT)
    if ('pcvm guest page %s' % token) not in page.stdout:
        problems.append('restrict=on: curl through hostfwd port %d got %r' % (FWD_RESTRICT, page.stdout[:200]))
    out = c.run('nc 10.0.2.100 1234 </dev/null >/tmp/blob3; sha256sum /tmp/blob3', 300, 'guestfwd cmd')
    m = re.search(r'^([0-9a-f]{64})\s+/tmp/blob3', out, re.M)
    if not m or m.group(1) != want_sum:
        problems.append('guestfwd cmd:cat: %r (want %s)' % (out.strip()[-300:], want_sum))
    # the host end stays connected (one chardev connection for every guest connection, as
    # QEMU's), so nc does not end by itself
    out = c.run('((echo ping; sleep 4) | nc 10.0.2.101 1235 >/tmp/chr.txt &); sleep 8; '
                'killall nc; cat /tmp/chr.txt', 120, 'guestfwd chardev')
    if ('chardev-reply %s' % chr_server.token) not in out or b'ping' not in chr_server.got:
        problems.append('guestfwd to a tcp chardev: guest got %r, host got %r' % (out.strip()[-200:], chr_server.got))


USER_OPTIONS = ('net=192.168.76.0/24,host=192.168.76.9,dhcpstart=192.168.76.50,dns=192.168.76.3,'
                'hostname=pcvmguest,domainname=pcvm.test,dnssearch=a.pcvm.test,dnssearch=b.pcvm.test')
OPTIONS_MAC = '52:54:00:ab:cd:ef'


def user_options_checks(c, problems, want_sum, before):
    """A fifth card (an e1000 with mac=) on a user network with its own addresses and names:
    libslirp's DHCP hands out dhcpstart= with host= as router, dns=, hostname=, domainname= and
    both dnssearch= domains, and the host is reached through host=."""
    eth = iface_of(c, OPTIONS_MAC)
    c.run('ifconfig %s down; ifconfig %s up' % (before, eth), 60, 'fifth card up')
    out = c.run('udhcpc -i %s -n -q -t 10 -O search -s /tmp/dhcp.sh' % eth, 180, 'dhcp fifth card')
    want = ('lease 192.168.76.50 router 192.168.76.9',
            'options dns=192.168.76.3 hostname=pcvmguest domain=pcvm.test search=a.pcvm.test b.pcvm.test')
    for w in want:
        if w not in out:
            problems.append('-netdev user,%s: the DHCP reply lacks %r: %r' % (USER_OPTIONS, w, out.strip()[-400:]))
            return
    out = c.run('rm -f /tmp/blob.bin; wget -q -O /tmp/blob.bin http://192.168.76.9:%d/blob.bin && '
                'sha256sum /tmp/blob.bin' % HTTP_PORT, 600, 'wget host=')
    m = re.search(r'^([0-9a-f]{64})\s+/tmp/blob\.bin', out, re.M)
    if not m or m.group(1) != want_sum:
        problems.append('wget through host=192.168.76.9: %r (want %s)' % (out.strip()[-300:], want_sum))


def test(log_path, consoles):
    tmp = tempfile.mkdtemp(prefix='pcvm-net-')
    server = None
    try:
        blob = os.urandom(1 << 20)
        with open(os.path.join(tmp, 'blob.bin'), 'wb') as f:
            f.write(blob)
        want_sum = hashlib.sha256(blob).hexdigest()
        server = host_server(tmp)
        blob_path = os.path.join(tmp, 'blob.bin')
        chr_server = ChardevPeer()
        mon_path, pcap = os.path.join(tmp, 'mon.sock'), os.path.join(tmp, 'net0.pcap')
        c = boot_to_shell(log_path, consoles,
                          ['-netdev', 'user,id=net0,hostfwd=tcp::%d-:22,hostfwd=tcp::%d-:80' % (FWD_SSH, FWD_WEB),
                           '-device', 'e1000,netdev=net0', '-monitor', 'unix:%s,server,nowait' % mon_path,
                           '-object', 'filter-dump,id=f0,netdev=net0,file=%s' % pcap,
                           '-net', 'nic,model=rtl8139', '-net', 'user,hostfwd=tcp::%d-:80' % FWD_RTL,
                           '-nic', 'user,model=e1000,restrict=on,hostfwd=tcp::%d-:80,'
                           'guestfwd=tcp:10.0.2.100:1234-cmd:cat %s,'
                           'guestfwd=tcp:10.0.2.101:1235-tcp:127.0.0.1:%d' % (FWD_RESTRICT, blob_path, CHR_PORT),
                           '-netdev', 'user,id=net3,hostfwd=tcp::%d-:80' % FWD_CLASSIC,
                           '-device', 'rtl8139,netdev=net3,cplus=off',
                           '-netdev', 'user,id=net4,' + USER_OPTIONS,
                           '-device', 'e1000,netdev=net4,mac=' + OPTIONS_MAC],
                          append='console=ttyS0 loglevel=7', initrd=initramfs('e1000 mii 8139too 8139cp'))
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
                     'hostfwd=tcp::%d-:22' % FWD_SSH, 'hostfwd=tcp::%d-:80' % FWD_WEB,
                     'rtl8139.1: index=0,type=nic,model=rtl8139,macaddr=52:54:00:12:34:57',
                     'hostfwd=tcp::%d-:80' % FWD_RTL):
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
        rtl8139_checks(c, problems, want_sum, token, '52:54:00:12:34:57', FWD_RTL, 'eth0')
        restrict_checks(c, problems, want_sum, token, chr_server)
        rtl8139_checks(c, problems, want_sum, token, '52:54:00:12:34:59', FWD_CLASSIC,
                       iface_of(c, '52:54:00:12:34:58'), classic=True)
        user_options_checks(c, problems, want_sum, iface_of(c, '52:54:00:12:34:59'))
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
