#!/usr/bin/env python3
"""Guest 4: the Debian installer (netboot i386 linux + initrd.gz) on ttyS0 reaches its first
question (language selection).

By default the installer runs on ttyS0 alone (see single_console_initrd).  With
PCVM_INSTALLER_ALL_CONSOLES=1 it runs as Debian ships it, one instance per console (ttyS0 and
tty1) started together: that is the reproducer of the open JIT bug in README ("Known bugs"),
where installer processes crash in about 1 boot in 8 with the JIT and never with jit=off or
in qemu-system-i386 in the runs made so far."""
import gzip
import os
import shutil
import tempfile
import time

from console import Console, GuestFailure, cache_dir, emulator, main


def installer_syslog(c):
    """The installer's syslog lines about the failed step: on ttyS0 it runs in GNU screen,
    whose window 2 is a shell (Ctrl-A 2, then Enter to activate it)."""
    try:
        c.send('\x01\x012')   # -nographic's mux takes Ctrl-A: Ctrl-A Ctrl-A sends one
        time.sleep(3)
        c.send('\r')
        time.sleep(2)
        return c.run("grep -iE 'localechooser|debconf|error|fail' /var/log/syslog | tail -40", 60, 'syslog')
    except GuestFailure as e:
        return '(no syslog: %s)' % e


def cpio_newc(files):
    """A cpio archive (the "newc" format the kernel unpacks) of {name: bytes}, mode 0644."""
    out = b''
    for ino, (name, data) in enumerate(sorted(files.items()) + [('TRAILER!!!', b'')], 1):
        trailer = name == 'TRAILER!!!'
        fields = [0 if trailer else ino, 0 if trailer else 0o100644, 0, 0, 1, 0, len(data),
                  0, 0, 0, 0, len(name) + 1, 0]
        hdr = b'070701' + b''.join(b'%08X' % v for v in fields) + name.encode() + b'\0'
        out += hdr + b'\0' * (-len(hdr) % 4) + data + b'\0' * (-len(data) % 4)
    return out


def single_console_initrd(guests, directory):
    """Debian's initrd followed by a second archive holding an empty /preseed.cfg.  With it,
    reopen-console starts one installer, on the preferred console (ttyS0), instead of one per
    console: two instances started together (ttyS0 and tty1) run localechooser at the same time
    and trip over each other's files (its own comment says so; Debian bug #987368 was one such
    race).  An empty preseed file sets no answer, so the first question is still asked."""
    path = os.path.join(directory, 'initrd-one-console.gz')
    with open(path, 'wb') as out:
        with open(os.path.join(guests, 'di-initrd.gz'), 'rb') as orig:
            shutil.copyfileobj(orig, out)
        out.write(gzip.compress(cpio_newc({'preseed.cfg': b''})))
    return path


def test(log_path, consoles):
    g = os.path.join(cache_dir(), 'guests')
    tmp = tempfile.mkdtemp(prefix='pcvm-installer-')
    try:
        if os.environ.get('PCVM_INSTALLER_ALL_CONSOLES'):
            initrd = os.path.join(g, 'di-initrd.gz')
        else:
            initrd = single_console_initrd(g, tmp)
        run(log_path, consoles, g, initrd)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(log_path, consoles, g, initrd):
    argv = [emulator(), '-m', '512', '-kernel', os.path.join(g, 'di-linux'),
            '-initrd', initrd, '-append', 'console=ttyS0', '-nographic']
    c = Console(argv, log_path)
    consoles.append(c)
    c.expect(r'Linux version 6\.', 120, 'the kernel banner')
    m = c.expect(r'\[!!\] Select a language|Installation step failed|Debian installer main menu', 1200,
                 "the installer's first question (language)")
    if 'Select a language' not in m.group(0):
        # The language step failed (its processes crashed): keep what the installer logged.
        raise GuestFailure('the installer showed "%s" before its first question; its syslog:\n'
                           % m.group(0) + installer_syslog(c))


if __name__ == '__main__':
    main(test)
