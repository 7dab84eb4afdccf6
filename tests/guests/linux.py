#!/usr/bin/env python3
"""Guest 1: Debian's 686 kernel with a busybox initramfs on ttyS0, driven through the shell.

One boot (`console=ttyS0 loglevel=7`, the MBR test disk as the first IDE disk, ata_piix and its
dependencies loaded from the initramfs) checks:
  - the shell: `uname -a`, /proc/cpuinfo's model name for -cpu (PCVM_GUEST_CPU, default
    pentium3), `date` within 5 s of the host, a 10,000-iteration loop, `cat /etc/passwd`;
  - the board in the full kernel log (`dmesg`): the i440FX host bridge 8086:1237, the PIIX3 ISA
    bridge 8086:7000, its IDE function 8086:7010 and the PIIX4 ACPI function 8086:7113 enumerated
    at 00:00.0/00:01.0/00:01.1/00:01.3, "ACPI: Interpreter enabled", ttyS0 at 0x3f8 irq 4 as a
    16550A, rtc_cmos registered as rtc0, ata_piix driving the primary channel at 0x1f0 irq 14
    and identifying the disk; no line with BUG, WARNING, Oops, panic or Call Trace;
  - `poweroff -f`: the kernel says "reboot: Power down" (ACPI S5 through PM1a) and the emulator
    exits with status 0.
The helpers (boot_to_shell, check_clean, power_off) are shared with linux_smp.py and cpumodels.py.
"""
import os
import re
import shutil
import subprocess
import time

from console import Console, GuestFailure, cache_dir, emulator, main

CPU = os.environ.get('PCVM_GUEST_CPU', 'pentium3')
# What Linux prints as "model name" for each -cpu model (family/model tables or brand string).
MODEL_NAMES = {
    'pentium3': r'Pentium(\(R\))? III', 'pentium2': r'Pentium(\(R\))? II',
    'pentium': r'Pentium', 'pentium-mmx': r'Pentium', '486': r'486',
    'qemu32': r'QEMU Virtual CPU', 'athlon': r'Athlon', 'pentium4': r'Pentium(\(R\))? 4',
    'coreduo': r'(Core|T2600)',
}
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ATA_MODULES = 'scsi_common scsi_mod libata ata_piix'
DISK = os.path.join('build', 'tests', 'kernels', 'mbr-disk.img')
# Also what a guest says when the ACPI tables name ports the PIIX4 does not decode (issue 13:
# SeaBIOS moves the PM block): "ACPI Error: Could not disable RealTimeClock events", "PM-Timer
# failed consistency check".
PROBLEMS = re.compile(r'^.*(?:\b(?:BUG|WARNING|Oops|panic|Call Trace)\b|ACPI (?:BIOS )?Error|PM-Timer failed).*$', re.M)


def initramfs(modules=''):
    """Build (when stale) and return the busybox initramfs, with these modules loaded by /init."""
    if not modules:
        out = os.path.join(cache_dir(), 'initramfs.cpio.gz')
        args = []
    else:
        out = os.path.join(cache_dir(), 'initramfs-%s.cpio.gz' % modules.split()[-1])
        args = ['-o', out, '--modules', modules]
    r = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'make-initramfs.sh')] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise GuestFailure('make-initramfs.sh failed: %s' % r.stdout.strip()[-500:])
    return out


def grub_image(out, append, initrd=None, extra_files=()):
    """A grub-mkrescue image (El Torito CD and MBR hard disk in one) whose GRUB boots the cached
    kernel with append on the serial console; extra_files = [(path on the image, host file)]."""
    tree = out + '.d'
    shutil.rmtree(tree, ignore_errors=True)
    os.makedirs(os.path.join(tree, 'boot', 'grub'))
    shutil.copy(os.path.join(cache_dir(), 'guests', 'vmlinuz-686'), os.path.join(tree, 'boot', 'vmlinuz'))
    shutil.copy(initrd or initramfs(), os.path.join(tree, 'boot', 'initrd.gz'))
    for dest, src in extra_files:
        shutil.copy(src, os.path.join(tree, dest))
    with open(os.path.join(tree, 'boot', 'grub', 'grub.cfg'), 'w') as f:
        f.write('serial --unit=0 --speed=115200\nterminal_input serial\nterminal_output serial\n'
                'set timeout=0\nlinux /boot/vmlinuz %s\ninitrd /boot/initrd.gz\nboot\n' % append)
    r = subprocess.run(['grub-mkrescue', '-o', out, tree], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    shutil.rmtree(tree, ignore_errors=True)
    if r.returncode != 0:
        raise GuestFailure('grub-mkrescue failed (grub-pc-bin, xorriso): %s' % r.stdout.strip()[-300:])
    return out


def boot_to_shell(log_path, consoles, extra=(), append='console=ttyS0', initrd=None, ram='256',
                  boot_timeout=600, firmware_boot=None):
    """Start Linux and wait for the busybox prompt; returns the Console.  firmware_boot: the
    drive options of a grub_image() to boot through SeaBIOS instead of -kernel."""
    if firmware_boot:
        argv = [emulator(), '-m', ram] + list(firmware_boot) + ['-nographic'] + list(extra)
    else:
        argv = [emulator(), '-m', ram, '-kernel', os.path.join(cache_dir(), 'guests', 'vmlinuz-686'),
                '-initrd', initrd or initramfs(), '-append', append, '-nographic'] + list(extra)
    c = Console(argv, log_path)
    consoles.append(c)
    c.expect(r'Linux version 6\.', 120, 'the kernel banner')
    c.expect(r'BOOT-OK', boot_timeout, 'the initramfs marker BOOT-OK')
    c.expect(r'pcvm:[^\n]*# ', 120, 'the shell prompt')
    return c


def check_clean(text, what='the kernel log'):
    bad = PROBLEMS.findall(text)
    if bad:
        raise GuestFailure('%s has problems: %s' % (what, ' | '.join(l.strip() for l in bad[:5])))


def power_off(c):
    """poweroff -f: ACPI S5 ends the emulator with status 0 after "reboot: Power down"."""
    c.send('poweroff -f\n')
    status = c.wait_exit(120)
    if status != 0:
        raise GuestFailure('poweroff -f ended the emulator with status %d, expected 0' % status)
    if not re.search(r'reboot: Power down', c.text()):
        raise GuestFailure('the emulator exited but the kernel never said "reboot: Power down"')


# (regex over dmesg, what it proves)
DEVICE_LINES = [
    (r'pci 0000:00:00\.0: \[8086:1237\] type 00 class 0x060000', 'the i440FX host bridge 8086:1237 at 00:00.0'),
    (r'pci 0000:00:01\.0: \[8086:7000\] type 00 class 0x060100', 'the PIIX3 ISA bridge 8086:7000 at 00:01.0'),
    (r'pci 0000:00:01\.1: \[8086:7010\] type 00 class 0x0101', 'the PIIX3 IDE function 8086:7010 at 00:01.1'),
    (r'pci 0000:00:01\.3: \[8086:7113\] type 00 class 0x068000', 'the PIIX4 ACPI function 8086:7113 at 00:01.3'),
    (r'ACPI: Interpreter enabled', '"ACPI: Interpreter enabled"'),
    (r'ACPI: PM-Timer IO Port: 0x[0-9a-f]+|clocksource: acpi_pm: mask: 0xffffff', 'the ACPI PM timer'),
    (r'ttyS0 at I/O 0x3f8 \(irq = 4, base_baud = 115200\) is a 16550A', 'ttyS0 at 0x3f8 irq 4 as a 16550A'),
    (r'rtc_cmos \S+: registered as rtc0', 'rtc_cmos registered as rtc0'),
    (r'scsi host\d: ata_piix', 'ata_piix taking the IDE function'),
    (r'ata\d: PATA max \S+ cmd 0x1f0 ctl 0x3f6 bmdma 0x[0-9a-f]+ irq 14', 'the primary IDE channel at 0x1f0 irq 14'),
    (r'ata\d\.00: ATA-\d+: ', 'libata identifying the disk on the primary channel'),
]


def check_devices(dmesg):
    missing = [what for rx, what in DEVICE_LINES if not re.search(rx, dmesg)]
    if missing:
        raise GuestFailure('the kernel log (dmesg) lacks: %s' % '; '.join(missing))
    if re.search(r'insmod \S+: failed', dmesg):
        raise GuestFailure('a module failed to load: %s' %
                           re.search(r'insmod \S+: failed', dmesg).group(0))


def test(log_path, consoles):
    if not os.path.exists(DISK):
        raise GuestFailure('%s is missing (tests/kernels/build.sh)' % DISK)
    c = boot_to_shell(log_path, consoles, ['-cpu', CPU, '-drive', 'file=%s,format=raw,if=ide' % DISK],
                      append='console=ttyS0 loglevel=7', initrd=initramfs(ATA_MODULES))
    if re.search(r'insmod \S+: failed', c.text()):
        raise GuestFailure('loading the IDE modules failed: %s' %
                           re.search(r'insmod \S+: failed.*', c.text()).group(0))

    # Every check runs and every failure is reported together (one boot is expensive).
    problems = []
    out = c.run('uname -a', 60, 'uname')
    if not re.search(r'Linux pcvm 6\.\S+-686 .* i686', out):
        problems.append('uname -a printed %r' % out.strip())

    out = c.run("grep -m1 'model name' /proc/cpuinfo", 60, 'cpuinfo')
    want = MODEL_NAMES.get(CPU)
    if want and not re.search(r'model name\s*:.*' + want, out):
        problems.append('/proc/cpuinfo names %r, expected %s for -cpu %s' % (out.strip(), want, CPU))

    out = c.run('date +%s', 60, 'date')
    host = time.time()
    m = re.search(r'^(\d{9,})$', out, re.M)
    if not m:
        problems.append('date +%%s printed %r' % out.strip())
    elif abs(int(m.group(1)) - host) > 5:
        problems.append('guest date %s differs from the host (%d) by %.0f s' %
                        (m.group(1), host, int(m.group(1)) - host))

    out = c.run('i=0; while [ $i -lt 10000 ]; do i=$((i+1)); done; echo "loop=$i"', 300, 'loop')
    if 'loop=10000' not in out:
        problems.append('the 10,000-iteration loop printed %r' % out.strip())

    out = c.run('cat /etc/passwd', 60, 'passwd')
    if 'root:x:0:0:' not in out:
        problems.append('cat /etc/passwd printed %r' % out.strip())

    dmesg = c.run('dmesg', 120, 'dmesg')
    if 'Linux version 6.' not in dmesg:
        problems.append('dmesg did not print the kernel log (no "Linux version 6.")')
    for check in (lambda: check_devices(dmesg), lambda: check_clean(dmesg, 'the kernel log (dmesg)'),
                  lambda: power_off(c), lambda: check_clean(c.text(), 'the console log')):
        try:
            check()
        except GuestFailure as e:
            problems.append(str(e))
    if problems:
        raise GuestFailure('; '.join(problems))


if __name__ == '__main__':
    main(test)
