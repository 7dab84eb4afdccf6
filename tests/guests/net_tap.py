#!/usr/bin/env python3
"""`-netdev tap,id=net0,ifname=tap0,script=no,downscript=no -device e1000,netdev=net0` (the
kernel guide's line) inside a network namespace this test creates, so nothing on the host's
own network changes.  pcvm creates tap0 in the namespace; the test gives it 192.168.77.1/24,
the guest takes 192.168.77.2, pings the host side three times, and the namespace's `ip -s
link` counts the frames.  Needs root (ip netns); skipped with a clear line otherwise.
"""
import os
import re
import subprocess
import sys
import time

from console import GuestFailure, main
from linux import boot_to_shell, initramfs


def ip(*args, check=True):
    r = subprocess.run(['ip'] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if check and r.returncode != 0:
        raise GuestFailure('ip %s: %s' % (' '.join(args), r.stdout.strip()))
    return r.stdout


def test(log_path, consoles):
    ns = 'pcvm-tap-%d' % os.getpid()
    ip('netns', 'add', ns)
    try:
        emu = os.environ.get('PCVM', os.path.join(os.getcwd(), 'pcvm'))
        os.environ['PCVM'] = emu
        # boot_to_shell runs $PCVM: wrap it in ip netns exec through a tiny launcher
        wrapper = os.path.join(os.path.dirname(log_path) or '.', 'pcvm-in-%s.sh' % ns)
        with open(wrapper, 'w') as f:
            f.write('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (ns, emu))
        os.chmod(wrapper, 0o755)
        os.environ['PCVM'] = wrapper
        try:
            c = boot_to_shell(log_path, consoles,
                              ['-netdev', 'tap,id=net0,ifname=tap0,script=no,downscript=no',
                               '-device', 'e1000,netdev=net0'], initrd=initramfs('e1000'))
        finally:
            os.environ['PCVM'] = emu
            os.unlink(wrapper)
        ip('netns', 'exec', ns, 'ip', 'addr', 'add', '192.168.77.1/24', 'dev', 'tap0')
        ip('netns', 'exec', ns, 'ip', 'link', 'set', 'tap0', 'up')
        c.run('ifconfig eth0 192.168.77.2 netmask 255.255.255.0 up', 120, 'up')
        out = c.run('sleep 2; ping -c 3 -W 5 192.168.77.1', 180, 'ping')
        if not re.search(r'3 packets transmitted, 3 packets received', out):
            raise GuestFailure('ping from the guest to tap0 in the namespace: %r' % out.strip()[-300:])
        stats = ip('netns', 'exec', ns, 'ip', '-s', 'link', 'show', 'tap0')
        if 'tap0' not in stats:
            raise GuestFailure('no tap0 in the namespace: %r' % stats)
    finally:
        for c in consoles:
            c.close()
        ip('netns', 'del', ns, check=False)


if __name__ == '__main__':
    if os.geteuid() != 0 or subprocess.run(['ip', 'netns', 'list'], stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL).returncode != 0:
        print('SKIP net_tap: needs root and ip netns (iproute2) to create a network namespace')
        sys.exit(0)
    main(test)
