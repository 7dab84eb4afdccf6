#!/usr/bin/env python3
"""Two pcvm guests joined by `-netdev socket`: guest A `listen=127.0.0.1:P`, guest B
`connect=127.0.0.1:P` (QEMU's stream format), each an e1000 with Debian's driver.  The guests
take 192.168.76.1 and .2 on their own wire (the frames only travel inside the TCP connection
between the two emulators), then B pings A three times and A sees B in its ARP table.
"""
import os
import re

from console import GuestFailure, main
from linux import boot_to_shell, initramfs

PORT = int(os.environ.get('PCVM_NET_PORT_BASE', '44000')) + 3


def test(log_path, consoles):
    rd = initramfs('e1000')
    a = boot_to_shell(log_path.replace('.log', '-a.log'), consoles,
                      ['-netdev', 'socket,id=s0,listen=127.0.0.1:%d' % PORT, '-device', 'e1000,netdev=s0'],
                      initrd=rd)
    b = boot_to_shell(log_path.replace('.log', '-b.log'), consoles,
                      ['-netdev', 'socket,id=s0,connect=127.0.0.1:%d' % PORT, '-device', 'e1000,netdev=s0,mac=52:54:00:12:34:99'],
                      initrd=rd)
    a.run('ifconfig eth0 192.168.76.1 netmask 255.255.255.0 up', 120, 'a-up')
    b.run('ifconfig eth0 192.168.76.2 netmask 255.255.255.0 up', 120, 'b-up')
    out = b.run('sleep 2; ping -c 3 -W 5 192.168.76.1', 180, 'ping')
    if not re.search(r'3 packets transmitted, 3 packets received', out):
        raise GuestFailure('ping over the socket netdev: %r' % out.strip()[-300:])
    arp = a.run('cat /proc/net/arp', 60, 'arp')
    if not re.search(r'192\.168\.76\.2\s+\S+\s+\S+\s+52:54:00:12:34:99', arp):
        raise GuestFailure('guest A has no ARP entry for B: %r' % arp)


if __name__ == '__main__':
    main(test)
