"""A small RFB (VNC) client for the display tests: handshake with no authentication, raw
32-bit pixels, update requests, key and pointer events, and the raw socket for tests that
misbehave on purpose (vanishing mid-update, malformed messages)."""
import socket
import struct
import time


class RfbError(Exception):
    pass


class Rfb:
    def __init__(self, host, port, timeout=20):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        version = self._read(12)
        if not version.startswith(b'RFB '):
            raise RfbError('not an RFB server: %r' % version)
        self.sock.sendall(b'RFB 003.008\n')
        n = self._read(1)[0]
        if n == 0:
            raise RfbError('server refused the connection')
        types = self._read(n)
        if 1 not in types:
            raise RfbError('no "None" security type offered: %r' % list(types))
        self.sock.sendall(b'\x01')
        if struct.unpack('>I', self._read(4))[0] != 0:
            raise RfbError('security handshake failed')
        self.sock.sendall(b'\x01')  # shared
        self.width, self.height = struct.unpack('>HH', self._read(4))
        self._read(16)  # server pixel format
        name_len = struct.unpack('>I', self._read(4))[0]
        self.name = self._read(name_len)
        # 32 bpp, depth 24, little endian, true colour, red at 16, green 8, blue 0.
        self.sock.sendall(struct.pack('>BxxxBBBBHHHBBBxxx', 0, 32, 24, 0, 1, 255, 255, 255, 16, 8, 0))
        # Encodings: raw and DesktopSize.
        self.sock.sendall(struct.pack('>BxHii', 2, 2, 0, -223))
        self.pixels = bytearray(self.width * self.height * 4)

    def _read(self, n):
        buf = b''
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise RfbError('connection closed by the server')
            buf += chunk
        return buf

    def request(self, incremental=False):
        self.sock.sendall(struct.pack('>BBHHHH', 3, 1 if incremental else 0, 0, 0,
                                      self.width, self.height))

    def read_update(self):
        """Read messages until one framebuffer update was applied; returns its rectangles."""
        while True:
            kind = self._read(1)[0]
            if kind == 0:
                break
            if kind == 1:  # colour map entries
                _, _, n = struct.unpack('>BHH', self._read(5))
                self._read(6 * n)
            elif kind == 2:  # bell
                pass
            elif kind == 3:  # cut text
                self._read(3)
                self._read(struct.unpack('>I', self._read(4))[0])
            else:
                raise RfbError('unexpected server message %d' % kind)
        self._read(1)
        count = struct.unpack('>H', self._read(2))[0]
        rects = []
        for _ in range(count):
            x, y, w, h, enc = struct.unpack('>HHHHi', self._read(12))
            if enc == -223:  # DesktopSize
                self.width, self.height = w, h
                self.pixels = bytearray(w * h * 4)
            elif enc == 0:
                data = self._read(w * h * 4)
                for row in range(h):
                    start = ((y + row) * self.width + x) * 4
                    self.pixels[start:start + w * 4] = data[row * w * 4:(row + 1) * w * 4]
            else:
                raise RfbError('unexpected encoding %d' % enc)
            rects.append((x, y, w, h, enc))
        return rects

    def capture(self):
        self.request(False)
        self.read_update()
        return self.width, self.height, bytes(self.pixels)

    def save_ppm(self, path):
        w, h, px = self.capture()
        with open(path, 'wb') as f:
            f.write(b'P6\n%d %d\n255\n' % (w, h))
            out = bytearray(w * h * 3)
            out[0::3] = px[2::4]
            out[1::3] = px[1::4]
            out[2::3] = px[0::4]
            f.write(out)

    def key(self, keysym, down):
        self.sock.sendall(struct.pack('>BBxxI', 4, 1 if down else 0, keysym))

    def type_text(self, text, delay=0.02):
        for ch in text:
            sym = 0xff0d if ch == '\n' else ord(ch)
            self.key(sym, True)
            self.key(sym, False)
            time.sleep(delay)

    def pointer(self, x, y, buttons=0):
        self.sock.sendall(struct.pack('>BBHH', 5, buttons, x, y))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass
