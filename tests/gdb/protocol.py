#!/usr/bin/env python3
"""Raw remote-protocol checks that gdb's batch mode cannot make: Ctrl-C while the guest runs
(a T02 stop reply), a bad checksum (one '-', then the resent packet works), an unknown packet
(the empty reply), an oversized packet (one E01), noise and binary bytes between packets
(ignored), replies framed with correct checksums, and k (pcvm exits).
Usage: protocol.py PORT. Exit status 0 when every check passed; prints what failed."""
import socket
import sys
import time


def frame(data):
    return b'$' + data + b'#%02x' % (sum(data) & 0xff)


class Stub:
    def __init__(self, port):
        for _ in range(50):
            try:
                self.s = socket.create_connection(('127.0.0.1', port), timeout=10)
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit('cannot connect to port %d' % port)
        self.buf = b''

    def read_byte(self):
        while not self.buf:
            data = self.s.recv(65536)
            if not data:
                raise EOFError
            self.buf += data
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def read_ack(self):
        return self.read_byte()

    def read_packet(self):
        """The next $...#ck packet; checks its checksum."""
        while self.read_byte() != b'$':
            pass
        data = b''
        while True:
            b = self.read_byte()
            if b == b'#':
                break
            data += b
        ck = self.read_byte() + self.read_byte()
        if int(ck, 16) != sum(data) & 0xff:
            raise AssertionError('bad checksum on reply %r' % data)
        return data

    def send(self, raw):
        self.s.sendall(raw)

    def cmd(self, data):
        self.send(frame(data))
        ack = self.read_ack()
        if ack != b'+':
            raise AssertionError('packet %r acknowledged with %r' % (data, ack))
        return self.read_packet()


def main():
    port = int(sys.argv[1])
    st = Stub(port)
    failures = []

    def check(what, cond):
        if not cond:
            failures.append(what)

    r = st.cmd(b'qSupported:multiprocess+;swbreak+;hwbreak+')
    check('qSupported: %r' % r, b'PacketSize=4000' in r and b'qXfer:features:read+' in r and
          b'vContSupported+' in r and b'swbreak+' in r)
    st.send(b'$g#00')
    check('a bad checksum gets "-"', st.read_ack() == b'-')
    r = st.cmd(b'?')
    check('? after a bad checksum: %r' % r, r.startswith(b'T05thread:01;'))
    r = st.cmd(b'qNoSuchThing')
    check('an unknown packet gets the empty reply, got %r' % r, r == b'')
    st.send(b'\x00\xff garbage \x7d+')
    r = st.cmd(b'A' * 20000)
    check('an oversized packet gets E01, got %r' % r[:20], r == b'E01')
    r = st.cmd(b'vCont?')
    check('vCont?: %r' % r, r == b'vCont;c;C;s;S')
    r = st.cmd(b'qfThreadInfo')
    check('two threads: %r' % r, r == b'm1,2')
    r = st.cmd(b'qThreadExtraInfo,2')
    check('thread 2 name: %r' % r, bytes.fromhex(r.decode()).startswith(b'CPU#1 ['))
    r = st.cmd(b'm100000,4')
    check('m reads the kernel: %r' % r, len(r) == 8)
    r = st.cmd(b'mfffffff0,40')
    check('m of unmapped memory gets an error: %r' % r, r.startswith(b'E') or len(r) == 0x80)
    r = st.cmd(b'Z9,100000,1')
    check('unknown breakpoint type: empty reply, got %r' % r, r == b'')
    r = st.cmd(b'Z2,100000,0')
    check('zero-length watchpoint refused: %r' % r, r.startswith(b'E'))
    # Run, then Ctrl-C.
    st.send(frame(b'vCont;c'))
    check('vCont;c acknowledged', st.read_ack() == b'+')
    time.sleep(0.5)
    st.send(b'\x03')
    r = st.read_packet()
    check('Ctrl-C gives a SIGINT stop reply: %r' % r, r.startswith(b'T02thread:'))
    st.send(b'+')
    r = st.cmd(b'qRcmd,' + b'info status'.hex().encode())
    out = b''
    while r.startswith(b'O') and r != b'OK':
        out += bytes.fromhex(r[1:].decode())
        r = st.read_packet()
    check('monitor info status through qRcmd: %r %r' % (out, r), b'VM status: paused' in out and r == b'OK')
    st.send(frame(b'k'))
    st.read_ack()
    if failures:
        print('protocol checks failed:\n  ' + '\n  '.join(failures))
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
