#!/usr/bin/env python3
"""Guest 4: the Debian installer (netboot i386 linux + initrd.gz) on ttyS0 reaches its first
question (language selection)."""
import os
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


def test(log_path, consoles):
    g = os.path.join(cache_dir(), 'guests')
    argv = [emulator(), '-m', '512', '-kernel', os.path.join(g, 'di-linux'),
            '-initrd', os.path.join(g, 'di-initrd.gz'), '-append', 'console=ttyS0',
            '-nographic']
    c = Console(argv, log_path)
    consoles.append(c)
    c.expect(r'Linux version 6\.', 120, 'the kernel banner')
    m = c.expect(r'\[!!\] Select a language|Installation step failed', 1200,
                 "the installer's first question (language)")
    if 'failed' in m.group(0):
        # Seen in 2 of 26 boots in session 6, cause unknown: keep what the installer logged.
        raise GuestFailure('the installer reported "Installation step failed" before its first '
                           'question; its syslog:\n' + installer_syslog(c))


if __name__ == '__main__':
    main(test)
