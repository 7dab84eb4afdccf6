#!/usr/bin/env python3
"""SeaBIOS (the default -bios) on the serial console with -nographic.

1. No disk: the banner "SeaBIOS (version ...)" appears and the boot ends at "No bootable device.".
2. A 512-byte MBR (tests/kernels/mbr.asm, built into a 1 MiB raw image) booted from the first
   IDE disk, given as -drive file=...,format=raw,if=ide, as -hda, and as -hda with -boot
   order=c: SeaBIOS says "Booting from Hard Disk...", the boot sector prints its line through
   int 10h (mirrored to the serial port, as QEMU's sercon does) with DL = 0x80, and writes 0x2a
   to isa-debug-exit at 0xf4, so the emulator exits with status (0x2a << 1) | 1 = 85."""
import os

from console import Console, GuestFailure, emulator, main

KDIR = os.path.join('build', 'tests', 'kernels')
EXIT_VALUE = 0x2a        # what mbr.asm writes to isa-debug-exit
DEBUG_EXIT = ['-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04']


def no_disk(log_path, consoles):
    c = Console([emulator(), '-nographic', '-m', '64'], log_path.replace('.log', '-nodisk.log'))
    consoles.append(c)
    c.expect(r'SeaBIOS \(version [^)\n]+\)', 60, "SeaBIOS's banner")
    c.expect(r'No bootable device\.', 60, "SeaBIOS's 'No bootable device.' message")
    if c.proc.poll() is not None:
        raise GuestFailure('the emulator exited (status %s) at "No bootable device."; SeaBIOS '
                           'should wait there' % c.proc.returncode)
    c.close()


def disk_boot(log_path, consoles, name, disk_args):
    argv = [emulator(), '-nographic', '-m', '64'] + disk_args + DEBUG_EXIT
    c = Console(argv, log_path.replace('.log', '-' + name + '.log'))
    consoles.append(c)
    c.expect(r'SeaBIOS \(version [^)\n]+\)', 60, "SeaBIOS's banner (%s)" % name)
    c.expect(r'Booting from Hard Disk\.\.\.', 60, "'Booting from Hard Disk...' (%s)" % name)
    c.expect(r'pcvm-mbr: hello from the boot sector, drive=80\n', 60,
             "the boot sector's int 10h line with DL=80 (%s)" % name)
    status = c.wait_exit(30)
    want = (EXIT_VALUE << 1) | 1
    if status != want:
        raise GuestFailure('%s: exit status %d, expected %d (isa-debug-exit value 0x%x)' %
                           (name, status, want, EXIT_VALUE))
    if 'isa-debug-exit did not stop the machine' in c.text():
        raise GuestFailure('%s: the boot sector ran past its isa-debug-exit write' % name)


def test(log_path, consoles):
    disk = os.path.join(KDIR, 'mbr-disk.img')
    if not os.path.exists(disk):
        raise GuestFailure('%s is missing (tests/kernels/build.sh)' % disk)
    no_disk(log_path, consoles)
    disk_boot(log_path, consoles, 'drive', ['-drive', 'file=%s,format=raw,if=ide' % disk])
    disk_boot(log_path, consoles, 'hda', ['-hda', disk])
    disk_boot(log_path, consoles, 'bootc', ['-boot', 'order=c', '-hda', disk])


if __name__ == '__main__':
    main(test)
