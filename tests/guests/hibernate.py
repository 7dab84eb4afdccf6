#!/usr/bin/env python3
"""S4, hibernation to disk: Linux (busybox initramfs with the IDE disk drivers) makes its swap
on an IDE disk, writes a marker to /tmp (RAM), `echo disk > /sys/power/state` writes the image
and enters ACPI S4 (the DSDT's \\_S4, SLP_TYP 2), which ends pcvm with status 0 as QEMU powers
off. A second pcvm on the same disk boots, `echo 8:0 > /sys/power/resume` restores the image:
the first shell carries on ("S4-STATUS 0") and /tmp still holds the marker."""
import os
import re
import tempfile

from console import GuestFailure, main
from linux import boot_to_shell, initramfs, power_off
from snapshot import DISK_MODULES

APPEND = 'console=ttyS0 no_console_suspend'   # the S4 lines reach the console


def test(log_path, consoles):
    tmp = tempfile.mkdtemp(prefix='pcvm-s4-')
    disk = os.path.join(tmp, 'swap.img')
    with open(disk, 'wb') as f:
        f.truncate(128 << 20)
    drive = ['-drive', 'file=%s,format=raw,if=ide,index=0' % disk]
    initrd = initramfs(DISK_MODULES)
    try:
        c = boot_to_shell(log_path, consoles, drive, initrd=initrd, append=APPEND)
        out = c.run('mkswap /dev/sda >/dev/null && swapon /dev/sda && echo swap-on', 120, 'swap')
        if 'swap-on' not in out:
            raise GuestFailure('mkswap/swapon on /dev/sda failed: %r' % out.strip())
        marker = 'hibernated-%d' % os.getpid()
        c.run('echo %s > /tmp/marker' % marker, 60, 'marker')
        c.send('echo disk > /sys/power/state; echo "S4-STATUS $?"\n')
        status = c.wait_exit(600)
        if status != 0:
            raise GuestFailure('hibernation ended pcvm with status %d, expected 0' % status)
        for line in (r'PM: hibernation: hibernation entry', r'ACPI: PM: Preparing to enter system sleep state S4'):
            if not re.search(line, c.text()):
                raise GuestFailure('the console lacks "%s" before pcvm stopped' % line)
        c = boot_to_shell(log_path.replace('.log', '-resume.log'), consoles, drive, initrd=initrd, append=APPEND)
        c.send('echo 8:0 > /sys/power/resume\n')
        c.expect(r'S4-STATUS 0', 600, 'the hibernated shell to carry on after the resume')
        out = c.run('cat /tmp/marker', 60, 'marker2')
        if marker not in out:
            raise GuestFailure('/tmp/marker after the resume: %r, expected %s' % (out.strip(), marker))
        power_off(c)
    finally:
        os.unlink(disk)
        os.rmdir(tmp)


if __name__ == '__main__':
    main(test)
