#!/usr/bin/env python3
"""Bad -kernel files get one clear error line and a non-zero exit, never a crash."""
import os
import re
import subprocess

from console import GuestFailure, cache_dir, emulator, main


def run(args):
    p = subprocess.run([emulator(), '-nographic'] + args, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=30)
    return p.returncode, (p.stdout + p.stderr).decode('utf-8', 'replace')


def test(log_path, consoles):
    logdir = os.path.dirname(log_path)
    vmlinuz = os.path.join(cache_dir(), 'guests', 'vmlinuz-686')
    truncated = os.path.join(logdir, 'truncated-bzimage')
    with open(vmlinuz, 'rb') as f, open(truncated, 'wb') as g:
        g.write(f.read(3000))
    text = os.path.join(logdir, 'not-a-kernel')
    with open(text, 'w') as g:
        g.write('just text\n' * 100)
    # Each case: arguments, and a regex the one error line must match.
    cases = [
        (['-kernel', text], 'not a Linux bzImage'),
        (['-kernel', truncated], 'truncated'),
        (['-m', '16', '-kernel', vmlinuz], 'give more memory with -m'),
        (['-kernel', os.path.join(logdir, 'no-such-file')], r'(cannot|could not) open'),
        (['-kernel', vmlinuz, '-initrd', os.path.join(logdir, 'no-such-initrd')],
         r'(cannot|could not) open.*no-such-initrd'),
    ]
    with open(log_path, 'w') as log:
        for args, needle in cases:
            status, out = run(args)
            log.write('$ pcvm %s\n%s(status %d)\n' % (' '.join(args), out, status))
            if status in (0, -11, -6, 134, 139) or status < 0:
                raise GuestFailure('pcvm %s: status %d (want a clean non-zero exit); output: %s' %
                                   (' '.join(args), status, out.strip()[-300:]))
            if not re.search(needle, out):
                raise GuestFailure('pcvm %s: error does not mention %r: %s' %
                                   (' '.join(args), needle, out.strip()[-300:]))


if __name__ == '__main__':
    main(test)
