#!/usr/bin/env python3
"""Network boot: `-boot n` through SeaBIOS and the cards' iPXE option ROMs (Debian's ipxe-qemu).

libslirp's DHCP hands iPXE `bootfile=boot.ipxe` from its TFTP directory (`tftp=`); the iPXE
script fetches Debian's 686 kernel and the busybox initramfs over HTTP from a python3
http.server on the host (10.0.2.2) and boots them; the test waits for the kernel banner and
BOOT-OK and the shell prompt on the serial console (then the emulator is stopped: a
SeaBIOS-booted Linux does not power off through ACPI yet, which is the board's matter).
First with `-device rtl8139,cplus=off` (an RTL8139C: iPXE's realtek driver finds no C+
command register and drives the classic transmit descriptors and receive ring) up to the
script fetched by TFTP; then with the rtl8139 (C+ mode, QEMU's chip) up to the kernel banner,
i.e. the kernel and initramfs fetched over that card; then with the e1000 to the shell.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from console import Console, GuestFailure, cache_dir, emulator, main
from linux import initramfs

PORT = int(os.environ.get('PCVM_NET_PORT_BASE', '44000')) + 2


def test(log_path, consoles):
    tmp = tempfile.mkdtemp(prefix='pcvm-netboot-')
    server = None
    try:
        shutil.copy(os.path.join(cache_dir(), 'guests', 'vmlinuz-686'), os.path.join(tmp, 'vmlinuz'))
        shutil.copy(initramfs(), os.path.join(tmp, 'initrd'))
        with open(os.path.join(tmp, 'boot.ipxe'), 'w') as f:
            f.write('#!ipxe\necho pcvm-ipxe-script\n'
                    'kernel http://10.0.2.2:%d/vmlinuz console=ttyS0\n'
                    'initrd http://10.0.2.2:%d/initrd\nboot\n' % (PORT, PORT))
        server = subprocess.Popen([sys.executable, '-m', 'http.server', str(PORT), '--bind', '127.0.0.1',
                                   '--directory', tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        for model, upto in (('rtl8139,cplus=off', 'script'), ('rtl8139', 'banner'), ('e1000', 'shell')):
            c = Console([emulator(), '-nographic', '-m', '256', '-boot', 'n',
                         '-netdev', 'user,id=n0,tftp=%s,bootfile=boot.ipxe' % tmp,
                         '-device', '%s,netdev=n0' % model], log_path)
            consoles.append(c)
            what = ' (%s)' % model
            c.expect(r'iPXE', 120, "iPXE's banner" + what)
            c.expect(r'net0: 10\.0\.2\.15/255\.255\.255\.0 gw 10\.0\.2\.2', 120, "iPXE's DHCP lease" + what)
            c.expect(r'pcvm-ipxe-script', 120, 'the iPXE script fetched by TFTP' + what)
            if upto != 'script':
                c.expect(r'Linux version 6\.', 300, 'the kernel banner (kernel fetched over HTTP)' + what)
            if upto != 'shell':
                c.close()
                consoles.remove(c)
                continue
            c.expect(r'BOOT-OK', 600, 'the initramfs marker BOOT-OK')
            c.expect(r'pcvm:[^\n]*# ', 120, 'the shell prompt')
    finally:
        if server:
            server.kill()
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main(test)
