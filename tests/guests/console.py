"""Drive an emulator's serial console (-nographic: stdin/stdout) without expect.

A Console starts the emulator with pipes, copies everything it prints to a log file, and offers
expect(regex) / send(text) / wait_exit().  A failed expectation raises GuestFailure with a clear
message; the runner prints the message and the last console lines.
"""
import os
import re
import select
import signal
import subprocess
import sys
import time

ANSI = re.compile(rb'\x1b(\[[0-9;?]*[ -/]*[@-~]|[()][0-9A-Za-z]|[@-Z\\-_])')


class GuestFailure(Exception):
    pass


def time_scale():
    """Multiplier for every time limit (PCVM_GUEST_TIME_SCALE, default 1)."""
    try:
        return max(0.1, float(os.environ.get('PCVM_GUEST_TIME_SCALE', '1')))
    except ValueError:
        return 1.0


class Console:
    def __init__(self, argv, log_path):
        self.argv = argv
        self.log = open(log_path, 'wb')
        self.log.write(('$ ' + ' '.join(argv) + '\n').encode())
        self.log.flush()
        self.raw = b''          # everything printed so far
        self.pos = 0            # expect() searches the cleaned text from here
        self._clean = ''
        self._clean_len = 0
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        os.set_blocking(self.proc.stdout.fileno(), False)
        self.status = None

    def text(self, start=0):
        """Console output as text (escape sequences and CRs removed), from offset start."""
        if self._clean_len != len(self.raw):
            self._clean = ANSI.sub(b'', self.raw).replace(b'\r', b'').decode('utf-8', 'replace')
            self._clean_len = len(self.raw)
        return self._clean[start:]

    def _pump(self, timeout):
        """Read what is available within timeout seconds; False once the process has ended."""
        fd = self.proc.stdout.fileno()
        r, _, _ = select.select([fd], [], [], max(0.0, timeout))
        if not r:
            return self.proc.poll() is None
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return True
        if not data:
            self.status = self.proc.wait()
            return False
        self.raw += data
        self.log.write(data)
        self.log.flush()
        return True

    def expect(self, pattern, timeout, what=None):
        """Wait until pattern (a regex over the cleaned text) appears after the last match."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout * time_scale()
        while True:
            m = rx.search(self.text(), self.pos)
            if m:
                self.pos = m.end()
                return m
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestFailure('timed out after %.0f s waiting for %s' %
                                   (timeout * time_scale(), what or repr(pattern)))
            if not self._pump(min(left, 0.5)) and self.proc.poll() is not None:
                while self._pump(0):
                    pass
                m = rx.search(self.text(), self.pos)
                if m:
                    self.pos = m.end()
                    return m
                raise GuestFailure('emulator exited (status %s) before %s appeared' %
                                   (self.proc.returncode, what or repr(pattern)))

    def send(self, text):
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            raise GuestFailure('emulator stopped reading its console input')

    def run(self, command, timeout, tag):
        """Type a shell command, wait for it to finish; returns its output.  The marker is
        echoed through $((...)) so the typed line never matches it."""
        start = len(self.text())
        self.send('%s; echo "@@%s-$((6*7))@@"\n' % (command, tag))
        self.expect(r'@@%s-42@@' % re.escape(tag), timeout, 'the end of `%s`' % command)
        out = self.text(start)
        # Drop the echoed command line and the marker line.
        lines = out.split('\n')
        lines = [l for l in lines if '@@%s-' % tag not in l]
        return '\n'.join(lines)

    def wait_exit(self, timeout):
        deadline = time.monotonic() + timeout * time_scale()
        while self.proc.poll() is None or self._pump(0):
            left = deadline - time.monotonic()
            if left <= 0:
                raise GuestFailure('emulator did not exit within %.0f s' % (timeout * time_scale()))
            self._pump(min(left, 0.5))
        while self._pump(0):
            pass
        return self.proc.returncode

    def close(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def tail(self, n=30):
        return '\n'.join(self.text().rstrip('\n').split('\n')[-n:])


def emulator():
    """The emulator to test: $PCVM or ./pcvm."""
    return os.environ.get('PCVM', os.path.join(os.getcwd(), 'pcvm'))


def cache_dir():
    return os.environ.get('PCVM_CACHE', os.path.join(os.path.expanduser('~'), '.cache', 'pcvm'))


def main(test):
    """Run test(log_path) -> None; print PASS/FAIL with the last console lines; exit 0/1."""
    name = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    log_dir = os.environ.get('PCVM_GUEST_LOGS', os.path.join('build', 'guest-logs'))
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, name + '.log')
    consoles = []
    try:
        test(log_path, consoles)
    except GuestFailure as e:
        print('FAIL %s: %s' % (name, e))
        for c in consoles:
            print('--- last 30 console lines (full log: %s) ---' % c.log.name)
            print(c.tail(30))
        sys.exit(1)
    finally:
        for c in consoles:
            c.close()
    print('PASS %s' % name)
    sys.exit(0)
