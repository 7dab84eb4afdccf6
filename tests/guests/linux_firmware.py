#!/usr/bin/env python3
"""Linux booted the way Hurd and MINIX users boot: SeaBIOS loads GRUB from the MBR of an IDE hard
disk (a grub-mkrescue image), GRUB loads the kernel and the busybox initramfs.  -smp 1 here;
linux_firmware_smp.py runs the same at -smp 2 (PCVM_FIRMWARE_SMP=2), where the second CPU must
come up ("smp: Brought up 1 node, 2 CPUs", two processors in /proc/cpuinfo, a loop pinned to
CPU 1 runs there).  ACPI after the firmware moved the PIIX4 PM block (issue 13):
the FADT's PM timer lies in the block SeaBIOS programmed (the PIIX4 quirk's range + 8), the power
button (monitor `system_powerdown`) raises an SCI the kernel counts on IRQ 9, the log has no
"ACPI Error" or "PM-Timer failed" line, and poweroff -f (S5) exits with status 0.  At -smp 2
also S3: `echo mem > /sys/power/state`, `info status` "paused (suspended)", system_wakeup, and
Linux back through SeaBIOS's resume path with CPU 1 up again.  The GRUB CD
path at -smp 1 is tests/block/guest_ide.sh's Linux scenario."""
import os
import re
import tempfile
import time

from console import GuestFailure, main
from linux import boot_to_shell, check_clean, grub_image, initramfs, power_off


def sci_count(c, tag):
    out = c.run('grep acpi /proc/interrupts', 60, tag)
    m = re.search(r'^\s*9:((?:\s+\d+)+)\s', out, re.M)
    if not m:
        raise GuestFailure('/proc/interrupts has no acpi line on IRQ 9: %r' % out.strip())
    return sum(int(n) for n in m.group(1).split())


def suspend_and_wake(c):
    """S3 at -smp 2 through SeaBIOS: `echo mem > /sys/power/state`, the monitor sees the
    machine suspended, system_wakeup wakes it; SeaBIOS's resume path jumps to Linux's waking
    vector and Linux brings CPU 1 back (its log says so; the console is suspended meanwhile)."""
    c.send('echo mem > /sys/power/state; echo "S3-STATUS $?"\n')
    c.expect(r'PM: suspend entry', 120, 'the kernel starting to suspend')
    deadline = time.monotonic() + 300
    c.send('\x01c')
    c.expect(r'\(qemu\) ', 30, 'the monitor prompt')
    while True:
        c.send('info status\n')
        m = c.expect(r'VM status: ([a-z() ]+)', 30, 'info status')
        if m.group(1).strip() == 'paused (suspended)':
            break
        if time.monotonic() > deadline:
            c.send('\x01c')
            raise GuestFailure('the machine never suspended (info status: %s)' % m.group(1))
        time.sleep(2)
    c.send('system_wakeup\n')
    c.expect(r'\(qemu\) ', 30, 'the monitor prompt after system_wakeup')
    c.send('\x01c')
    c.expect(r'S3-STATUS 0', 300, 'echo mem to return 0 after the wake-up')
    log = c.run("dmesg | grep -E 'Low-level resume complete|CPU1 is up|PM: suspend exit'", 120, 's3-dmesg')
    for line in ('ACPI: PM: Low-level resume complete', 'CPU1 is up', 'PM: suspend exit'):
        if line not in log:
            raise GuestFailure('the kernel log lacks "%s" after the wake-up' % line)


def test(log_path, consoles):
    smp = int(os.environ.get('PCVM_FIRMWARE_SMP', '1'))
    tmp = tempfile.mkdtemp(prefix='pcvm-smp-')
    # Debian builds the ACPI button driver as a module: without it nothing enables PWRBTN_EN.
    disk = grub_image(os.path.join(tmp, 'grub-disk.img'), 'console=ttyS0 loglevel=7',
                      initrd=initramfs('button'))
    try:
        c = boot_to_shell(log_path, consoles, ['-smp', str(smp)],
                          firmware_boot=['-drive', 'file=%s,format=raw,if=ide,index=0' % disk])
    finally:
        os.unlink(disk)
        os.rmdir(tmp)
    problems = []
    if not re.search(r'Booting from Hard Disk', c.text()):
        problems.append('SeaBIOS did not say "Booting from Hard Disk"')
    if smp == 2:
        if not re.search(r'smp: Brought up 1 node, 2 CPUs', c.text()):
            m = re.search(r'smp: Brought up .*', c.text())
            problems.append('the kernel did not bring up 2 CPUs (%s)' % (m.group(0) if m else 'no "smp: Brought up" line'))
        out = c.run('grep -c ^processor /proc/cpuinfo', 60, 'cpuinfo')
        m = re.search(r'^(\d+)$', out, re.M)
        if not m or m.group(1) != '2':
            problems.append('/proc/cpuinfo lists %s processors, expected 2' % (m.group(1) if m else '?'))
        out = c.run("taskset -c 1 sh -c 'i=0; while [ $i -lt 2000 ]; do i=$((i+1)); done; "
                    "echo loop=$i cpu=$(cut -d\" \" -f39 /proc/self/stat)'", 300, 'taskset')
        if not re.search(r'loop=2000 cpu=1\b', out):
            problems.append('a loop pinned to CPU 1 printed %r' % out.strip())
        try:
            suspend_and_wake(c)
            out = c.run("taskset -c 1 sh -c 'echo cpu=$(cut -d\" \" -f39 /proc/self/stat)'", 120, 'cpu1-after-s3')
            if not re.search(r'cpu=1\b', out):
                problems.append('after S3, a command pinned to CPU 1 printed %r' % out.strip())
        except GuestFailure as e:
            problems.append('S3: %s' % e)
    dmesg = c.run('dmesg', 120, 'dmesg')
    pmt = re.search(r'ACPI: PM-Timer IO Port: 0x([0-9a-f]+)', dmesg)
    quirk = re.search(r'\[io\s+0x([0-9a-f]+)-0x[0-9a-f]+\] claimed by PIIX4 ACPI', dmesg)
    if not pmt or not quirk or int(pmt.group(1), 16) != int(quirk.group(1), 16) + 8:
        problems.append('the FADT PM timer (%s) is not in the PM block SeaBIOS programmed (%s)' %
                        (pmt.group(0) if pmt else 'none', quirk.group(0) if quirk else 'no PIIX4 quirk line'))
    try:
        before = sci_count(c, 'sci1')
        c.send('\x01c')                       # the monitor, on the same stdio (mon:stdio)
        c.expect(r'\(qemu\) ', 30, 'the monitor prompt')
        c.send('system_powerdown\n')
        c.expect(r'\(qemu\) ', 30, 'the monitor prompt after system_powerdown')
        c.send('\x01c')
        time.sleep(1)                         # the switch back, before the next line is typed
        after = sci_count(c, 'sci2')
        if after <= before:
            problems.append('the power button raised no SCI (IRQ 9 count %d -> %d)' % (before, after))
    except GuestFailure as e:
        problems.append(str(e))
    for check in (lambda: check_clean(dmesg, 'the kernel log (dmesg)'), lambda: power_off(c),
                  lambda: check_clean(c.text(), 'the console log')):
        try:
            check()
        except GuestFailure as e:
            problems.append(str(e))
    if problems:
        raise GuestFailure('; '.join(problems))



if __name__ == '__main__':
    main(test)
