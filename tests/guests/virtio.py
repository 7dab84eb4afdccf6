#!/usr/bin/env python3
"""virtio-blk-pci, virtio-net-pci and virtio-rng-pci with Debian's 686 Linux, one boot for
every check.

The disk and the card use the GNU/Hurd box's form (`-drive file=IMG,if=none,id=hd0,format=qcow2
-device virtio-blk-pci,drive=hd0 -netdev user,id=net0 -device virtio-net-pci,netdev=net0`, the
netdev with two hostfwd= rules) on a qcow2 image made by qemu-img; a second, raw disk comes from
`-drive if=virtio` (created first, so it is vda); the rng is `-device virtio-rng-pci`.  Linux
drives them through the 1.0 interface.  The virtio modules are loaded from the busybox
initramfs, then:
  - the kernel log shows both disks (vda 1 MiB raw, vdb 8 MiB qcow2) and no errors;
  - the guest reads the first 256 KiB of vdb and its sha256 matches the host's data;
  - the guest writes a random token at sector 1000 of vdb (dd, sync) and one at sector 10 of
    vda; after poweroff, qemu-img convert of the qcow2 image and the raw file show them;
  - /dev/hwrng gives 64 bytes, from virtio_rng.0, and they are not all the same; a second,
    legacy-only rng without MSI-X or the event index (`disable-modern=on,vectors=0,event_idx=off`:
    Linux's legacy driver on INTx) gives 64 more; the first negotiated the event index, the
    second not;
  - eth0 is driven by virtio_net with QEMU's first MAC; the driver negotiated checksum offload,
    TSO4, mergeable receive buffers, link status and the control queue (rx modes, MAC address;
    so everything below runs with Linux's receive filter: promiscuous off, its MAC table); udhcpc gets 10.0.2.15 from libslirp;
    wget fetches 1 MiB from a host web server (sha256 checked); the guest sends 1 MiB to a host
    TCP listener with nc (its TSO super-frames cut into segments by pcvm; sha256 checked on the
    host); curl on the host reads a page from the guest's httpd through hostfwd;
    `set_link` on the monitor: the guest sees the carrier go and come back;
  - virtio-9p: `-virtfs local,...,security_model=none` (read-write), the same directory again
    with `readonly=on`, and `-fsdev local,...,security_model=mapped-xattr` + `-device
    virtio-9p-pci`; the guest mounts all three (trans=virtio): reads a host file and a 1 MiB one
    (sha256), creates, renames, symlinks, removes, chmods and copies 300 KiB, and the host sees
    each change; host symlinks pointing out of the share (`..`, an absolute path) and `..` lead
    nowhere near the secret file next to the share; the read-only share refuses a write;
    chown in the mapped share shows in the guest and lands in user.virtfs.* on the host;
    in the mapped share the guest (pcvm is not root) makes a character device (1,3: writes to it
    reach the guest's null driver), a FIFO and a symlink, which are plain files on the host with
    their type, device number and owner in user.virtfs.* (the symlink's target as content);
    Debian's getfattr/setfattr (run from the share through their loader) set, list, read and
    remove attributes: user.* lands as is on the host, trusted.* beneath user.virtfs., pcvm's
    own user.virtfs.uid can neither be seen nor set; on the plain share a host attribute reads
    in the guest and the guest's lands on the host; `migrate file:` is refused while a share is
    mounted and works once they are unmounted (the guest goes on after `cont`); after the
    power-off that state is loaded into a new pcvm (-incoming file:), where the virtio disk
    reads the same data, the rng gives bytes, virtio-net pings the gateway, hvc0 output
    reaches the chardev file and the 9p share mounts again;
  - every device uses MSI-X: /proc/interrupts lists PCI-MSI vectors for the config changes and
    each queue (virtioN-config, -req.0, -input.0, -output.0, -input, -requests), and they fired;
  - virtio-serial-pci: a virtconsole on a file chardev is hvc0, a Linux console (console=hvc0
    before console=ttyS0): a message written to /dev/kmsg and a line written to /dev/hvc0 land in
    the file; a virtserialport named org.pcvm.test on a unix socket chardev shows its name in
    sysfs and carries a line each way (host to the guest's /dev/vportNp1 and back);
  - the paravirtual clock (on by default): dmesg says "kvm-clock: Using msrs 4b564d01 and
    4b564d00" and the current clocksource is kvm-clock;
  - -d guest_errors logged nothing about virtio.
Ports: PCVM_VIRTIO_PORT_BASE (default 46400) + 1, 2, 80.
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

from console import Console, GuestFailure, main
from linux import boot_to_shell, check_clean, initramfs, power_off

MODULES = ('virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci virtio_blk '
           'failover net_failover virtio_net netfs fscache 9pnet 9pnet_virtio 9p virtio-rng virtio_console')
BASE = int(os.environ.get('PCVM_VIRTIO_PORT_BASE', '46400'))
HTTP_PORT, SINK_PORT, FWD_WEB = BASE + 1, BASE + 2, BASE + 80
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


class Sink:
    """A TCP listener on 127.0.0.1:SINK_PORT that hashes what one connection sends."""
    def __init__(self):
        self.s = socket.socket()
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.s.bind(('127.0.0.1', SINK_PORT))
        self.s.listen(1)
        self.s.settimeout(600)
        self.digest, self.count = None, 0
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        try:
            conn, _ = self.s.accept()
            conn.settimeout(600)
            h = hashlib.sha256()
            while True:
                d = conn.recv(65536)
                if not d:
                    break
                h.update(d)
                self.count += len(d)
            conn.close()
            self.digest = h.hexdigest()
        except OSError:
            pass

    def result(self, timeout):
        self.t.join(timeout)
        self.s.close()
        return self.digest, self.count


def monitor_cmd(path, line):
    """One HMP command over the unix socket; returns its output."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(30)
    s.connect(path)
    buf = b''
    for send in (None, line):
        if send:
            s.sendall(send.encode() + b'\n')
            buf = b''
        while not buf.endswith(b'(qemu) '):
            d = s.recv(4096)
            if not d:
                break
            buf += d
    s.close()
    return buf.decode('utf-8', 'replace')


def share_tree(tmp):
    """The host side of the 9p shares: share/ (read-write, security_model=none, also exported
    read-only), mapped/ (mapped-xattr), and a secret next to them that no share reaches."""
    share, mapped = os.path.join(tmp, 'share'), os.path.join(tmp, 'mapped')
    os.makedirs(os.path.join(share, 'sub'))
    os.makedirs(mapped)
    token = secrets.token_hex(8)
    with open(os.path.join(share, 'hello.txt'), 'w') as f:
        f.write('hello %s\n' % token)
    with open(os.path.join(share, 'gone.txt'), 'w') as f:
        f.write('remove me\n')
    big = os.urandom(1 << 20)
    with open(os.path.join(share, 'sub', 'big.bin'), 'wb') as f:
        f.write(big)
    secret = secrets.token_hex(8)
    with open(os.path.join(tmp, 'secret.txt'), 'w') as f:
        f.write('secret %s\n' % secret)
    os.symlink('../..', os.path.join(share, 'up'))
    os.symlink(tmp, os.path.join(share, 'abs'))
    os.setxattr(os.path.join(share, 'hello.txt'), 'user.host', b'from-host')
    # Debian's getfattr and setfattr with their loader and libraries (scripts/fetch-guests.sh attr).
    tools = os.path.join(share, 'tools')
    shutil.copytree(os.path.join(os.environ.get('PCVM_CACHE', os.path.expanduser('~/.cache/pcvm')), 'guests', 'attr'),
                    tools)
    os.makedirs(os.path.join(tools, 'bin'))
    for name in ('getfattr', 'setfattr'):   # run once copied to the guest's /tmp/attr
        with open(os.path.join(tools, 'bin', name), 'w') as f:
            f.write('#!/bin/sh\nexec /tmp/attr/ld-linux.so.2 --library-path /tmp/attr /tmp/attr/%s "$@"\n' % name)
    return share, mapped, token, hashlib.sha256(big).hexdigest(), secret


def check_9p(c, tmp, share, mapped, token, big_sum, secret, problems):
    """The virtio-9p checks (see the module docstring)."""
    out = c.run('mkdir -p /mnt/h /mnt/ro /mnt/m && '
                'mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 share0 /mnt/h && '
                'mount -t 9p -o trans=virtio,version=9p2000.L share0ro /mnt/ro && '
                'mount -t 9p -o trans=virtio,version=9p2000.L mapped /mnt/m && echo MOUNTED', 120, 'mount9p')
    if 'MOUNTED' not in out:
        problems.append('mounting the 9p shares failed: %r' % out.strip()[-300:])
        return
    # As QEMU: no migration (nor savevm) while the guest has a share mounted.
    mon = os.path.join(tmp, 'mon.sock')
    out = monitor_cmd(mon, 'migrate file:%s' % os.path.join(tmp, 'refused.state'))
    if 'unmount it first' not in out or os.path.exists(os.path.join(tmp, 'refused.state')):
        problems.append('migrate with 9p shares mounted: %r' % out.strip()[-300:])
    out = c.run('cat /mnt/h/hello.txt; sha256sum /mnt/h/sub/big.bin; ls /mnt/h', 300, 'read9p')
    if ('hello %s' % token) not in out:
        problems.append('the guest read %r from hello.txt over 9p' % out.strip()[:200])
    if big_sum not in out:
        problems.append('sha256 of a 1 MiB file over 9p: %r, host %s' % (out.strip()[-200:], big_sum))
    c.run('echo "guest wrote this" > /mnt/h/new.txt && mkdir /mnt/h/gdir && mv /mnt/h/new.txt /mnt/h/gdir/moved.txt && '
          'ln -s moved.txt /mnt/h/gdir/link && rm /mnt/h/gone.txt && '
          'dd if=/dev/urandom of=/tmp/up.bin bs=4096 count=75 2>/dev/null && cp /tmp/up.bin /mnt/h/up.bin && '
          'chmod 600 /mnt/h/up.bin && sync', 300, 'write9p')
    out = c.run('sha256sum /tmp/up.bin; cat /mnt/h/gdir/link; stat -c "%a %s" /mnt/h/up.bin; df /mnt/h | tail -1',
                120, 'stat9p')
    m = re.search(r'^([0-9a-f]{64})\s+/tmp/up\.bin', out, re.M)
    host_up = os.path.join(share, 'up.bin')
    if not m or not os.path.exists(host_up) or hashlib.sha256(open(host_up, 'rb').read()).hexdigest() != m.group(1):
        problems.append('the 300 KiB file the guest copied to the share differs on the host')
    elif (os.stat(host_up).st_mode & 0o777) != 0o600:
        problems.append('chmod 600 in the guest left mode %o on the host' % (os.stat(host_up).st_mode & 0o777))
    if 'guest wrote this' not in out:
        problems.append('reading through the guest-made symlink gave %r' % out.strip()[:200])
    moved = os.path.join(share, 'gdir', 'moved.txt')
    if not os.path.exists(moved) or open(moved).read() != 'guest wrote this\n':
        problems.append('the host does not see gdir/moved.txt with the guest\'s text')
    link = os.path.join(share, 'gdir', 'link')
    if not os.path.islink(link) or os.readlink(link) != 'moved.txt':
        problems.append('the host does not see the guest\'s symlink gdir/link -> moved.txt')
    if os.path.exists(os.path.join(share, 'gone.txt')):
        problems.append('gone.txt still exists on the host after rm in the guest')
    # Escapes: the host's symlinks lead the guest into its own tree, never the host's.
    out = c.run('cat /mnt/h/up/secret.txt /mnt/h/abs/secret.txt /mnt/h/../secret.txt 2>&1; '
                'echo x > /mnt/h/up/planted.txt 2>&1; ls /mnt/h/abs/ 2>&1 | head -3', 120, 'escape9p')
    if secret in out:
        problems.append('the guest read the host file next to the share: %r' % out.strip()[:300])
    if os.path.exists(os.path.join(tmp, 'planted.txt')) or os.path.exists(os.path.join(os.path.dirname(tmp), 'planted.txt')):
        problems.append('the guest created a file outside the share')
    out = c.run('touch /mnt/ro/x 2>&1; cat /mnt/ro/hello.txt', 60, 'ro9p')
    if 'Read-only file system' not in out or ('hello %s' % token) not in out:
        problems.append('the readonly=on share: %r' % out.strip()[:300])
    out = c.run('echo m > /mnt/m/f && chown 1234:5678 /mnt/m/f && chmod 640 /mnt/m/f && stat -c "%u:%g %a" /mnt/m/f',
                60, 'mapped9p')
    if '1234:5678 640' not in out:
        problems.append('mapped-xattr: the guest sees %r for a file it chowned 1234:5678 and chmod 640' % out.strip()[-100:])
    host_f = os.path.join(mapped, 'f')
    try:
        if os.stat(host_f).st_uid != os.getuid() or int.from_bytes(os.getxattr(host_f, 'user.virtfs.uid'), 'little') != 1234:
            problems.append('mapped-xattr: the host file is not ours with user.virtfs.uid=1234')
    except OSError as e:
        problems.append('mapped-xattr: %s' % e)
    check_9p_nodes_xattrs(c, share, mapped, problems)
    c.run('umount /mnt/h /mnt/ro /mnt/m', 60, 'umount9p')
    # Unmounted, the machine (every virtio device) can be saved; restored after the power-off.
    out = monitor_cmd(mon, 'migrate file:%s' % os.path.join(tmp, 'vm.state'))
    out += monitor_cmd(mon, 'cont')
    if 'rror' in out or 'blocked' in out or not os.path.exists(os.path.join(tmp, 'vm.state')):
        problems.append('migrate file: after unmounting the 9p shares: %r' % out.strip()[-300:])


def xattr_int(path, name):
    try:
        return int.from_bytes(os.getxattr(path, name, follow_symlinks=False), 'little')
    except OSError:
        return None


def check_9p_nodes_xattrs(c, share, mapped, problems):
    """Device nodes, FIFOs and symlinks in the mapped share; getfattr/setfattr on both shares."""
    out = c.run('mknod /mnt/m/cdev c 1 3 && mknod /mnt/m/fifo p && chown 7:8 /mnt/m/cdev && ln -s some/target /mnt/m/sl && '
                'stat -c "%n %F %t:%T %u:%g" /mnt/m/cdev /mnt/m/fifo && echo gone > /mnt/m/cdev && echo NULL-OK; '
                'echo "link=$(readlink /mnt/m/sl)"; ls -l /mnt/m', 120, 'nodes9p')
    for want in ('/mnt/m/cdev character special file 1:3 7:8', '/mnt/m/fifo fifo', 'NULL-OK', 'link=some/target'):
        if want not in out:
            problems.append('mapped-xattr device node/FIFO/symlink: %r lacks %r' % (out.strip()[-500:], want))
    cdev, fifo, sl = (os.path.join(mapped, n) for n in ('cdev', 'fifo', 'sl'))
    try:
        if not all(os.path.isfile(p) and not os.path.islink(p) for p in (cdev, fifo, sl)):
            problems.append('mapped-xattr: the guest\'s device node, FIFO and symlink are not plain files on the host')
        mode, rdev = xattr_int(cdev, 'user.virtfs.mode'), xattr_int(cdev, 'user.virtfs.rdev')
        if mode is None or (mode & 0o170000) != 0o020000 or rdev != os.makedev(1, 3) or xattr_int(cdev, 'user.virtfs.uid') != 7:
            problems.append('mapped-xattr: the host\'s cdev has mode %r rdev %r' % (mode, rdev))
        if ((xattr_int(fifo, 'user.virtfs.mode') or 0) & 0o170000) != 0o010000:
            problems.append('mapped-xattr: the host\'s fifo does not store a FIFO mode')
        if open(sl).read() != 'some/target':
            problems.append('mapped-xattr: the host file for the guest\'s symlink holds %r' % open(sl).read())
    except OSError as e:
        problems.append('mapped-xattr nodes on the host: %s' % e)
    c.run('cp -r /mnt/h/tools /tmp/attr && chmod +x /tmp/attr/* /tmp/attr/bin/*; export PATH=/tmp/attr/bin:$PATH',
          120, 'attrtools')
    out = c.run('setfattr -n user.color -v blue /mnt/m/f && setfattr -n user.gone -v x /mnt/m/f && '
                'setfattr -n trusted.note -v guestroot /mnt/m/f && setfattr -x user.gone /mnt/m/f && '
                'getfattr -d -m - /mnt/m/f; getfattr -n user.virtfs.uid /mnt/m/f; '
                'setfattr -n user.virtfs.uid -v 0x00000000 /mnt/m/f || echo REFUSED; stat -c "uid=%u" /mnt/m/f; '
                'getfattr -n user.host /mnt/h/hello.txt; setfattr -n user.guest -v g1 /mnt/h/hello.txt && echo SET-OK',
                300, 'xattr9p')
    for want in ('user.color="blue"', 'trusted.note="guestroot"', 'REFUSED', 'uid=1234', 'user.host="from-host"', 'SET-OK'):
        if want not in out:
            problems.append('getfattr/setfattr over 9p: %r lacks %r' % (out.strip()[-600:], want))
    for bad in (r'^user\.gone=', r'^user\.virtfs\.'):
        if re.search(bad, out, re.M):
            problems.append('getfattr over 9p shows %r: %r' % (bad, out.strip()[-600:]))
    f = os.path.join(mapped, 'f')
    try:
        if os.getxattr(f, 'user.color') != b'blue' or os.getxattr(f, 'user.virtfs.trusted.note') != b'guestroot':
            problems.append('mapped-xattr: the host lacks user.color=blue and user.virtfs.trusted.note=guestroot')
        if 'user.gone' in os.listxattr(f):
            problems.append('setfattr -x in the guest left user.gone on the host')
        if os.getxattr(os.path.join(share, 'hello.txt'), 'user.guest') != b'g1':
            problems.append('the guest\'s user.guest attribute did not reach the host file')
    except OSError as e:
        problems.append('xattrs on the host: %s' % e)


def check_restored(argv, log_path, consoles, tmp, head, problems):
    """The machine saved after the 9p unmount, loaded into a new process (-incoming file:): its
    virtio disk, rng, network card, console and 9p share all go on working."""
    for sock in ('mon.sock', 'port.sock'):
        if os.path.exists(os.path.join(tmp, sock)):
            os.unlink(os.path.join(tmp, sock))
    c = Console(list(argv) + ['-incoming', 'file:%s' % os.path.join(tmp, 'vm.state')], log_path + '.restored')
    consoles.append(c)
    tok = secrets.token_hex(8)
    out = c.run('dd if=/dev/vdb bs=4096 count=64 2>/dev/null | sha256sum; head -c 32 /dev/hwrng | od -An -tx1 | wc -w; '
                'echo restored-%s > /dev/hvc0; ping -c 1 -W 10 10.0.2.2 >/dev/null && echo PING-OK; '
                'mount -t 9p -o trans=virtio,version=9p2000.L share0 /mnt/h && cat /mnt/h/hello.txt && umount /mnt/h'
                % tok, 300, 'restored')
    for want, what in ((hashlib.sha256(head).hexdigest(), 'the virtio disk read'), ('32', '32 bytes from /dev/hwrng'),
                       ('PING-OK', 'a ping over virtio-net'), ('hello ', 'the 9p share mounted again')):
        if want not in out:
            problems.append('after -incoming of the saved machine: %s failed: %r' % (what, out.strip()[-400:]))
    time.sleep(1)
    if ('restored-' + tok) not in open(os.path.join(tmp, 'hvc0.out'), errors='replace').read():
        problems.append('after -incoming of the saved machine: the write to hvc0 did not reach the chardev file')
    try:
        power_off(c)
    except GuestFailure as e:
        problems.append('the restored machine: %s' % e)


def check_net(c, tmp, problems):
    """The virtio-net checks (see the module docstring)."""
    out = c.run('cat /sys/class/net/eth0/address; basename $(readlink /sys/class/net/eth0/device/driver); '
                'cat /sys/class/net/eth0/device/features', 60, 'eth0')
    if '52:54:00:12:34:56' not in out or 'virtio_net' not in out:
        problems.append('eth0 is not virtio_net with MAC 52:54:00:12:34:56: %r' % out.strip())
    m = re.search(r'^([01]{64})\s*$', out, re.M)
    if not m:
        problems.append('no feature bits for the virtio-net device: %r' % out.strip())
    else:
        for bit, name in ((0, 'CSUM'), (1, 'GUEST_CSUM'), (5, 'MAC'), (11, 'HOST_TSO4'), (15, 'MRG_RXBUF'), (16, 'STATUS'),
                          (17, 'CTRL_VQ'), (18, 'CTRL_RX'), (23, 'CTRL_MAC_ADDR'), (29, 'RING_EVENT_IDX'),
                          (32, 'VERSION_1')):
            if m.group(1)[bit] != '1':
                problems.append('the driver did not negotiate %s (features %s)' % (name, m.group(1)))
    c.run("printf '%s' > /tmp/dhcp.sh; chmod +x /tmp/dhcp.sh; ifconfig eth0 up" % DHCP_SCRIPT, 60, 'up')
    out = c.run('udhcpc -i eth0 -n -q -t 10 -s /tmp/dhcp.sh', 180, 'dhcp')
    if not re.search(r'lease 10\.0\.2\.15 router 10\.0\.2\.2', out):
        raise GuestFailure('no DHCP lease over virtio-net: %r' % out.strip()[-400:])
    blob = os.urandom(1 << 20)
    with open(os.path.join(tmp, 'blob.bin'), 'wb') as f:
        f.write(blob)
    server = host_server(tmp)
    try:
        out = c.run('wget -q -O /tmp/blob.bin http://10.0.2.2:%d/blob.bin && sha256sum /tmp/blob.bin'
                    % HTTP_PORT, 600, 'wget')
    finally:
        server.kill()
        server.wait()
    m = re.search(r'^([0-9a-f]{64})\s+/tmp/blob\.bin', out, re.M)
    if not m or m.group(1) != hashlib.sha256(blob).hexdigest():
        problems.append('wget over virtio-net: %r' % out.strip()[-300:])
    sink = Sink()
    c.run('nc 10.0.2.2 %d < /tmp/blob.bin' % SINK_PORT, 600, 'nc')
    digest, count = sink.result(120)
    if digest != hashlib.sha256(blob).hexdigest():
        problems.append('the host received %d bytes from the guest\'s nc, sha256 %s (sent 1 MiB)' % (count, digest))
    token = secrets.token_hex(8)
    c.run('mkdir -p /www && echo "pcvm guest page %s" > /www/index.html && httpd -p 80 -h /www' % token, 60, 'httpd')
    page = subprocess.run(['curl', '-s', '--max-time', '60', 'http://127.0.0.1:%d/' % FWD_WEB],
                          stdout=subprocess.PIPE, text=True)
    if ('pcvm guest page %s' % token) not in page.stdout:
        problems.append('curl through hostfwd port %d got %r (exit %d)' % (FWD_WEB, page.stdout[:200], page.returncode))
    mon = os.path.join(tmp, 'mon.sock')
    monitor_cmd(mon, 'set_link net0 off')
    out = c.run('sleep 1; cat /sys/class/net/eth0/carrier', 60, 'carrier-off')
    if not re.search(r'^0\s*$', out, re.M):
        problems.append('after set_link net0 off the guest carrier is %r' % out.strip())
    monitor_cmd(mon, 'set_link net0 on')
    out = c.run('sleep 1; cat /sys/class/net/eth0/carrier', 60, 'carrier-on')
    if not re.search(r'^1\s*$', out, re.M):
        problems.append('after set_link net0 on the guest carrier is %r' % out.strip())


def check_serial(c, tmp, problems):
    """virtio-serial: hvc0 (a virtconsole on a file chardev) carries kernel messages and what the
    guest writes; the named virtserialport on a unix socket carries bytes both ways."""
    tok, ktok, up, down = (secrets.token_hex(8) for _ in range(4))
    # The port is vportNp1, N being the virtio device's index: found by its name in sysfs.
    out = c.run('for p in /sys/class/virtio-ports/*; do [ "$(cat $p/name 2>/dev/null)" = org.pcvm.test ] && VP=/dev/${p##*/}; '
                'done; echo "port=$VP"; ls /dev/hvc0 $VP; '
                'echo hvc-%s > /dev/hvc0; echo "<3>kmsg-%s" > /dev/kmsg; sleep 1' % (tok, ktok), 60, 'hvc0')
    if not re.search(r'^port=/dev/vport\d+p1\s*$', out, re.M) or 'No such file' in out:
        problems.append('virtio-serial ports: %r' % out.strip()[-300:])
    text = open(os.path.join(tmp, 'hvc0.out'), errors='replace').read()
    for what, want in (('the write to /dev/hvc0', 'hvc-' + tok), ('the kernel message (hvc0 as console)', 'kmsg-' + ktok)):
        if want not in text:
            problems.append('%s did not reach the virtconsole chardev file: %r' % (what, text[-300:]))
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(60)
    try:
        s.connect(os.path.join(tmp, 'port.sock'))
        c.send('head -n 1 $VP > /tmp/vport.in &\n')
        time.sleep(2)
        s.sendall(('down-%s\n' % down).encode())
        out = c.run('wait; cat /tmp/vport.in; echo up-%s > $VP' % up, 120, 'vport')
        if 'down-' + down not in out:
            problems.append('the guest read %r from its vport, the host sent down-%s' % (out.strip()[-200:], down))
        got = b''
        while b'\n' not in got:
            chunk = s.recv(256)
            if not chunk:
                break
            got += chunk
        if ('up-' + up).encode() not in got:
            problems.append('the host read %r from the virtserialport socket, the guest wrote up-%s' % (got, up))
    except OSError as e:
        problems.append('virtserialport socket: %s' % e)
    finally:
        s.close()


def test(log_path, consoles):
    tmp = tempfile.mkdtemp(prefix='pcvm-virtio-')
    try:
        raw, qcow, raw2 = (os.path.join(tmp, n) for n in ('src.raw', 'hd0.qcow2', 'vdb.raw'))
        head = os.urandom(256 << 10)
        with open(raw, 'wb') as f:
            f.write(head)
            f.truncate(8 << 20)
        with open(raw2, 'wb') as f:
            f.truncate(1 << 20)
        r = subprocess.run(['qemu-img', 'convert', '-f', 'raw', '-O', 'qcow2', raw, qcow],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise GuestFailure('qemu-img convert to qcow2 failed: %s' % r.stdout.strip())
        errlog = os.path.join(tmp, 'errors.log')
        share, mapped, share_token, big_sum, secret = share_tree(tmp)
        c = boot_to_shell(log_path, consoles,
                          ['-drive', 'file=%s,if=none,id=hd0,format=qcow2' % qcow,
                           '-device', 'virtio-blk-pci,drive=hd0',
                           '-drive', 'file=%s,if=virtio,format=raw' % raw2,
                           '-netdev', 'user,id=net0,hostfwd=tcp::%d-:22,hostfwd=tcp::%d-:80' % (BASE + 22, FWD_WEB),
                           '-device', 'virtio-net-pci,netdev=net0',
                           '-monitor', 'unix:%s,server,nowait' % os.path.join(tmp, 'mon.sock'),
                           '-device', 'virtio-rng-pci',
                           '-device', 'virtio-rng-pci,disable-modern=on,vectors=0,event_idx=off',
                           '-virtfs', 'local,path=%s,mount_tag=share0,security_model=none' % share,
                           '-virtfs', 'local,path=%s,mount_tag=share0ro,security_model=passthrough,readonly=on,id=ro0'
                           % share,
                           '-fsdev', 'local,id=fs1,path=%s,security_model=mapped-xattr' % mapped,
                           '-device', 'virtio-9p-pci,fsdev=fs1,mount_tag=mapped',
                           '-device', 'virtio-serial-pci',
                           '-chardev', 'file,id=vcon,path=%s' % os.path.join(tmp, 'hvc0.out'),
                           '-device', 'virtconsole,chardev=vcon',
                           '-chardev', 'socket,id=vport,path=%s,server=on,wait=off' % os.path.join(tmp, 'port.sock'),
                           '-device', 'virtserialport,chardev=vport,name=org.pcvm.test',
                           '-d', 'guest_errors', '-D', errlog],
                          append='console=hvc0 console=ttyS0 loglevel=7', initrd=initramfs(MODULES))
        problems = []
        if re.search(r'insmod \S+: failed', c.text()):
            raise GuestFailure('loading the virtio modules failed: %s' %
                               re.search(r'insmod \S+: failed.*', c.text()).group(0))
        out = c.run('cat /proc/partitions', 60, 'partitions')
        if not re.search(r'\b1024\s+vda\b', out) or not re.search(r'\b8192\s+vdb\b', out):
            raise GuestFailure('/proc/partitions lacks vda (1024 KiB) and vdb (8192 KiB): %r' % out.strip())
        out = c.run('dd if=/dev/vdb bs=4096 count=64 2>/dev/null | sha256sum', 300, 'read')
        want = hashlib.sha256(head).hexdigest()
        if want not in out:
            problems.append('the guest read sha256 %r from vdb, the host wrote %s' % (out.strip(), want))
        tok1, tok2 = secrets.token_hex(16), secrets.token_hex(16)
        c.run('echo %s > /tmp/t1; dd if=/tmp/t1 of=/dev/vdb bs=512 seek=1000 conv=fsync 2>/dev/null; '
              'echo %s > /tmp/t2; dd if=/tmp/t2 of=/dev/vda bs=512 seek=10 conv=fsync 2>/dev/null; sync'
              % (tok1, tok2), 300, 'write')
        out = c.run('dd if=/dev/vdb bs=512 skip=1000 count=1 2>/dev/null | head -c 32; echo', 120, 'readback')
        if tok1 not in out:
            problems.append('vdb sector 1000 read back %r, wrote %s' % (out.strip(), tok1))
        out = c.run('head -c 64 /dev/hwrng | od -An -tx1; cat /sys/class/misc/hw_random/rng_current',
                    120, 'hwrng')
        rnd = [b for line in re.findall(r'^(?: [0-9a-f]{2})+\s*$', out, re.M) for b in line.split()]
        if 'virtio_rng.0' not in out:
            problems.append('rng_current is not virtio_rng.0: %r' % out.strip())
        if len(rnd) != 64 or len(set(rnd)) < 16:
            problems.append('/dev/hwrng gave %r' % out.strip())
        check_net(c, tmp, problems)
        check_9p(c, tmp, share, mapped, share_token, big_sum, secret, problems)
        check_serial(c, tmp, problems)
        out = c.run('grep virtio /proc/interrupts', 60, 'interrupts')
        for name in ('config', 'req.0', 'input.0', 'output.0', 'input', 'requests'):
            m = re.search(r'^\s*\d+:\s+(\d+)\s+PCI-MSI\S*\s+\S+\s+(?:\S+\s+)?virtio\d+-%s\s*$' % re.escape(name),
                          out, re.M)
            if not m:
                problems.append('no MSI-X vector virtioN-%s in /proc/interrupts: %r' % (name, out.strip()[-600:]))
            elif name in ('req.0', 'input.0') and int(m.group(1)) == 0:
                problems.append('the MSI-X vector virtioN-%s never fired' % name)
        out = c.run('cat /sys/devices/system/clocksource/clocksource0/current_clocksource', 60, 'clocksource')
        if not re.search(r'^kvm-clock\s*$', out, re.M):
            problems.append('the clocksource is %r, not kvm-clock' % out.strip())
        # The legacy-only rng (Linux's legacy virtio-pci driver) gives bytes too.
        out = c.run('echo virtio_rng.1 > /sys/class/misc/hw_random/rng_current; '
                    'head -c 64 /dev/hwrng | od -An -tx1; cat /sys/class/misc/hw_random/rng_current; '
                    'echo virtio_rng.0 > /sys/class/misc/hw_random/rng_current', 120, 'hwrng-legacy')
        rnd = [b for line in re.findall(r'^(?: [0-9a-f]{2})+\s*$', out, re.M) for b in line.split()]
        if 'virtio_rng.1' not in out or len(rnd) != 64 or len(set(rnd)) < 16:
            problems.append('the legacy-only virtio-rng-pci (disable-modern=on,vectors=0): %r' % out.strip()[-300:])
        # Both rngs' negotiated features: the modern one has the event index (bit 29) and
        # VERSION_1 (bit 32), the legacy one with event_idx=off neither.
        out = c.run('for d in /sys/bus/virtio/devices/*; do [ "$(cat $d/device)" = 0x0004 ] && '
                    'echo "rngfeat $(cat $d/features)"; done', 60, 'rng-features')
        feats = sorted((f[29], f[32]) for f in re.findall(r'^rngfeat ([01]{64})\s*$', out, re.M))
        if feats != [('0', '0'), ('1', '1')]:
            problems.append('rng features (event index, VERSION_1) should be off/off and on/on: %r' % out.strip())
        full = c.run('dmesg', 120, 'dmesg')
        if 'kvm-clock: Using msrs 4b564d01 and 4b564d00' not in full:
            problems.append('dmesg lacks "kvm-clock: Using msrs 4b564d01 and 4b564d00"')
        for rx, what in ((r'virtio_blk virtio\d+: \[vda\] 2048 512-byte logical blocks', 'vda with 2048 sectors'),
                         (r'virtio_blk virtio\d+: \[vdb\] 16384 512-byte logical blocks', 'vdb with 16384 sectors')):
            if not re.search(rx, full):
                problems.append('dmesg lacks %s' % what)
        for check in (lambda: check_clean(full, 'the kernel log (dmesg)'), lambda: power_off(c)):
            try:
                check()
            except GuestFailure as e:
                problems.append(str(e))
        errs = open(errlog, errors='replace').read() if os.path.exists(errlog) else ''
        if 'virtio' in errs:
            problems.append('-d guest_errors logged: %r' % errs[:300])
        back = os.path.join(tmp, 'back.raw')
        r = subprocess.run(['qemu-img', 'convert', '-f', 'qcow2', '-O', 'raw', qcow, back],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            problems.append('qemu-img convert of the guest-written image failed: %s' % r.stdout.strip())
        else:
            with open(back, 'rb') as f:
                f.seek(1000 * 512)
                got = f.read(32).decode('ascii', 'replace')
            if got != tok1:
                problems.append('qemu-img sees %r at sector 1000 of the qcow2 image, the guest wrote %s' % (got, tok1))
        with open(raw2, 'rb') as f:
            f.seek(10 * 512)
            got = f.read(32).decode('ascii', 'replace')
        if got != tok2:
            problems.append('the raw if=virtio disk has %r at sector 10, the guest wrote %s' % (got, tok2))
        if os.path.exists(os.path.join(tmp, 'vm.state')):
            check_restored(c.argv, log_path, consoles, tmp, head, problems)
        if problems:
            raise GuestFailure('; '.join(problems))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main(test)
