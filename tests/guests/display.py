#!/usr/bin/env python3
"""The display: VGA/VBE rendering read back over VNC, screendump, the SDL window, input.

1. SeaBIOS without a disk, with -vnc, -display sdl (under Xvfb) and a monitor socket at once:
   - Net::VNC (Debian's Perl VNC client) captures the screen; tesseract reads SeaBIOS's banner
     and "No bootable device" from it; `screendump` (PPM and PNG) shows the same text, and its
     pixels are exactly what a raw-pixel VNC client (rfb.py) receives;
   - two clients at once; clients that vanish mid-handshake and mid-update; 120 connections
     sending seeded random or truncated client messages: the server keeps serving afterwards;
   - the SDL window, grabbed from the X server with ImageMagick's `import`, shows SeaBIOS;
   - virtual consoles per front end: Ctrl-Alt-2 over VNC shows the monitor there while the
     window keeps SeaBIOS; Ctrl-Alt-2/1 typed into the window with xdotool switch it alone;
   - with password=on, Net::VNC gets in only after `set_password vnc` and with that password;
     there `-serial mon:vc` is a console on which Net::VNC's keys reach the mux's monitor.
2. Debian's 686 kernel with the bochs DRM driver (fbcon on the Bochs VBE framebuffer):
   - text written to /dev/tty1 is read back over VNC (1024x768) and by screendump with OCR;
   - keys typed by a VNC client (including shifted symbols, which pcvm adds Shift for) reach a
     process reading /dev/tty1, and so do the monitor's `sendkey` keys;
   - host CPU of the idle guest with a VNC client attached is measured and printed.
"""
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import threading
import time

from console import Console, GuestFailure, cache_dir, emulator, main, time_scale
from linux import initramfs
from rfb import Rfb, RfbError

BOCHS_MODULES = ('drm fb_sys_fops syscopyarea sysfillrect sysimgblt drm_kms_helper ttm '
                 'drm_ttm_helper drm_vram_helper bochs psmouse')
HERE = os.path.dirname(os.path.abspath(__file__))


def ocr(path):
    r = subprocess.run(['tesseract', path, '-'], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       text=True)
    return ' '.join(r.stdout.split())


def expect_text(path, words, what):
    text = ocr(path)
    for w in words:
        if w.lower() not in text.lower():
            raise GuestFailure('%s: OCR does not find %r in %r' % (what, w, text[:300]))
    return text


class Monitor:
    """The human monitor on a unix socket."""

    def __init__(self, path):
        deadline = time.monotonic() + 20 * time_scale()
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise GuestFailure('cannot connect to the monitor at %s' % path)
                time.sleep(0.2)
        self.buf = b''
        # Some monitors greet each client, others printed their banner before we connected:
        # ask for a prompt, then drop everything until the monitor is quiet.
        self.sock.sendall(b'\n')
        self.sock.settimeout(1)
        while True:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                if self.buf.endswith(b'(qemu) '):
                    break
                continue
            if not data:
                raise GuestFailure('the monitor closed its socket')
            self.buf += data
        self.buf = b''
        self.sock.settimeout(30 * time_scale())

    def _until(self, marker):
        while marker not in self.buf:
            data = self.sock.recv(4096)
            if not data:
                raise GuestFailure('the monitor closed its socket')
            self.buf += data
        out, self.buf = self.buf.split(marker, 1)
        return out.decode('utf-8', 'replace')

    def cmd(self, line):
        self.sock.sendall(line.encode() + b'\n')
        out = self._until(b'(qemu) ')
        return out.replace('\r', '').split('\n', 1)[-1].strip()

    def close(self):
        self.sock.close()


def start(argv, log_path, consoles, tmp, vnc_opts=''):
    """Start pcvm with -vnc on a free display of this test's range (100 displays from
    PCVM_VNC_DISPLAY_BASE, default 100: ports 6000-6099; PCVM_VNC_DISPLAY_COUNT narrows the
    range); returns (console, port)."""
    first = int(os.environ.get('PCVM_VNC_DISPLAY_BASE', '100'))
    count = int(os.environ.get('PCVM_VNC_DISPLAY_COUNT', '100'))
    base = os.getpid() % count
    for attempt in range(10):
        disp = first + (base + attempt * 7) % count
        full = argv + ['-vnc', '127.0.0.1:%d%s' % (disp, vnc_opts), '-monitor', 'unix:%s/mon,server=on,wait=off' % tmp]
        c = Console(full, log_path)
        time.sleep(1)
        if c.proc.poll() is not None:
            c._pump(0.5)
            if 'cannot listen' in c.text():
                c.close()
                continue
            raise GuestFailure('pcvm exited at start: %s' % c.text()[-300:])
        consoles.append(c)
        return c, 5900 + disp
    raise GuestFailure('no free VNC display in %d-%d' % (first, first + count - 1))


def wait_screen(mon, tmp, words, timeout, what):
    """screendump until OCR finds every word (the guest is still drawing)."""
    deadline = time.monotonic() + timeout * time_scale()
    path = os.path.join(tmp, 'wait.png')
    while True:
        out = mon.cmd('screendump %s -f png' % path)
        if out:
            raise GuestFailure('screendump said: %s' % out)
        text = ocr(path)
        if all(w.lower() in text.lower() for w in words):
            return
        if time.monotonic() > deadline:
            raise GuestFailure('%s never appeared on the screen; OCR reads %r' % (what, text[:300]))
        time.sleep(2)


def read_ppm(path):
    with open(path, 'rb') as f:
        data = f.read()
    m = re.match(rb'P6\n(\d+) (\d+)\n255\n', data)
    if not m:
        raise GuestFailure('%s is not a binary PPM' % path)
    return int(m.group(1)), int(m.group(2)), data[m.end():]


def diff_box(a, b, width):
    """Bounding box (x0, y0, x1, y1) of the pixels where two RGB pictures differ, or None."""
    box = None
    for i in range(0, len(a), 3):
        if a[i:i + 3] != b[i:i + 3]:
            x, y = (i // 3) % width, (i // 3) // width
            if box is None:
                box = [x, y, x + 1, y + 1]
            else:
                box = [min(box[0], x), min(box[1], y), max(box[2], x + 1), max(box[3], y + 1)]
    return tuple(box) if box else None


def net_vnc_capture(port, out, password=None, may_fail=False):
    env = dict(os.environ)
    if password is not None:
        env['VNC_PASSWORD'] = password
    r = subprocess.run(['perl', os.path.join(HERE, 'vnc_capture.pl'), '127.0.0.1', str(port), out],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                       timeout=60 * time_scale())
    if r.returncode != 0:
        if may_fail:
            return None
        raise GuestFailure('Net::VNC failed: %s' % r.stdout.strip()[-300:])
    return r.stdout.strip()


def net_vnc_keys(port, password, *actions):
    env = dict(os.environ, VNC_PASSWORD=password)
    r = subprocess.run(['perl', os.path.join(HERE, 'vnc_keys.pl'), '127.0.0.1', str(port)] + list(actions),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                       timeout=60 * time_scale())
    if r.returncode != 0:
        raise GuestFailure('Net::VNC could not type: %s' % r.stdout.strip()[-300:])


def password_part(log_path, consoles, tmp):
    """password=on: no login before set_password, then only with the right password."""
    c, port = start([emulator(), '-m', '64', '-serial', 'mon:vc', '-display', 'none', '-net', 'none'],
                    log_path.replace('.log', '-password.log'), consoles, tmp, ',password=on')
    mon = Monitor(os.path.join(tmp, 'mon'))
    out = os.path.join(tmp, 'pw.png')
    if net_vnc_capture(port, out, 'secret', may_fail=True) is not None:
        raise GuestFailure('password=on let a client in before set_password')
    mon.cmd('set_password vnc secret')
    if net_vnc_capture(port, out, 'wrong', may_fail=True) is not None:
        raise GuestFailure('password=on let a client in with a wrong password')
    net_vnc_capture(port, out, 'secret')
    # -serial mon:vc: one console (Ctrl-Alt-2) for COM1 and, behind Ctrl-A c, a monitor;
    # typed with Net::VNC.
    net_vnc_keys(port, 'secret', 'down:ffe3', 'down:ffe9', 'key:32', 'up:ffe9', 'up:ffe3')
    size = net_vnc_capture(port, out, 'secret')
    if size != '640x384':
        raise GuestFailure('-serial mon:vc: Ctrl-Alt-2 shows %s, not its 80x24 console' % size)
    net_vnc_keys(port, 'secret', 'down:ffe3', 'key:61', 'up:ffe3', 'text:cinfo status', 'key:ff0d')
    deadline = time.monotonic() + 30 * time_scale()
    while 'status: running' not in ocr(out).lower():
        if time.monotonic() > deadline:
            raise GuestFailure("-serial mon:vc: 'info status' after Ctrl-A c; OCR reads %r" % ocr(out))
        time.sleep(1)
        net_vnc_capture(port, out, 'secret')
    mon.cmd('quit')
    c.wait_exit(30)
    mon.close()


def misbehaving_clients(port, seed):
    """Clients that vanish mid-handshake or mid-update, and malformed messages."""
    rng = random.Random(seed)
    for i in range(120):
        try:
            s = socket.create_connection(('127.0.0.1', port), timeout=5)
        except OSError as e:
            raise GuestFailure('connection %d refused after misbehaving clients: %s' % (i, e))
        try:
            kind = i % 6
            if kind == 0:
                s.recv(12)                       # vanish mid-handshake
            elif kind in (1, 2):
                s.settimeout(5)
                # A valid handshake, a full update request, then gone without reading.
                s.recv(12)
                s.sendall(b'RFB 003.008\n')
                s.recv(2)
                s.sendall(b'\x01')
                s.recv(4)
                s.sendall(b'\x01')
                s.recv(24)
                s.sendall(struct.pack('>BBHHHH', 3, 0, 0, 0, 2000, 2000))
                if kind == 2:
                    s.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))))
            else:
                # Garbage at any point of the protocol.
                s.recv(12)
                if kind == 4:
                    s.sendall(b'RFB 003.008\n\x01\x01')
                s.sendall(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))))
        except OSError:
            pass                                 # the server may drop us: that is fine
        finally:
            s.close()


def switch_console(port, n):
    """Ctrl-Alt-n from a VNC client; returns the size and pixels then shown."""
    r = Rfb('127.0.0.1', port)
    r.capture()
    for ks in (0xffe3, 0xffe9, 0x30 + n):       # Control_L, Alt_L, the digit
        r.key(ks, True)
    for ks in (0x30 + n, 0xffe9, 0xffe3):
        r.key(ks, False)
    r.close()
    time.sleep(1)
    r = Rfb('127.0.0.1', port)
    w, h, px = r.capture()
    r.close()
    return w, h, px


def wait_vnc_text(port, tmp, words, what):
    """Capture over VNC until OCR finds every word."""
    path = os.path.join(tmp, 'console.ppm')
    deadline = time.monotonic() + 30 * time_scale()
    while True:
        r = Rfb('127.0.0.1', port)
        r.capture()
        r.save_ppm(path)
        r.close()
        text = ocr(path)
        if all(w.lower() in text.lower() for w in words):
            return text
        if time.monotonic() > deadline:
            raise GuestFailure('%s: OCR reads %r' % (what, text[:300]))
        time.sleep(1)


def wait_window_text(tmp, words, what):
    """Grab the X screen (the SDL window) until OCR finds every word; returns the text."""
    shot = os.path.join(tmp, 'sdl-shot.png')
    deadline = time.monotonic() + 30 * time_scale()
    while True:
        subprocess.run(['import', '-window', 'root', shot], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        text = ocr(shot) if os.path.exists(shot) else ''
        if all(w.lower() in text.lower() for w in words):
            return text
        if time.monotonic() > deadline:
            raise GuestFailure('%s: OCR of the SDL window reads %r' % (what, text[:300]))
        time.sleep(1)


def window_keys(*keys):
    """Type into the SDL window through the X server (XTEST), as a user would."""
    wid = subprocess.run(['xdotool', 'search', '--name', '^pcvm'], stdout=subprocess.PIPE,
                         text=True, timeout=30).stdout.split()
    if not wid:
        raise GuestFailure('xdotool finds no pcvm window')
    subprocess.run(['xdotool', 'windowfocus', '--sync', wid[0]], check=True, timeout=30)
    for k in keys:
        subprocess.run(['xdotool', 'key', '--delay', '50', k], check=True, timeout=30)


def virtual_consoles(port, mon, tmp):
    """QEMU's virtual consoles, one choice per front end: Ctrl-Alt-2 over VNC shows the monitor
    (-monitor vc) with its own input line while the SDL window keeps the guest's screen;
    Ctrl-Alt-2 typed into the window shows the monitor there; Ctrl-Alt-3 COM1 (-serial vc),
    Ctrl-Alt-1 the guest again; screendump keeps writing the guest's screen."""
    w, h, _ = switch_console(port, 2)
    if (w, h) != (640, 384):
        raise GuestFailure('Ctrl-Alt-2 shows a %dx%d picture, expected the 80x24 monitor console' % (w, h))
    wait_vnc_text(port, tmp, ['monitor', 'help'], "the monitor's banner on Ctrl-Alt-2")
    r = Rfb('127.0.0.1', port)
    r.capture()
    r.type_text('info status\n')
    r.close()
    wait_vnc_text(port, tmp, ['status: running'], "'info status' typed on the monitor console")
    # The window did not follow the VNC client's switch.
    time.sleep(1)
    wait_window_text(tmp, ['SeaBIOS', 'bootable device'],
                     'the window after Ctrl-Alt-2 over VNC (it must keep the guest screen)')
    window_keys('ctrl+alt+2')
    wait_window_text(tmp, ['status: running'], 'the monitor console after Ctrl-Alt-2 in the window')
    window_keys('ctrl+alt+1')
    wait_window_text(tmp, ['SeaBIOS', 'bootable device'], 'the guest screen after Ctrl-Alt-1 in the window')
    # ... and VNC still shows the monitor.
    wait_vnc_text(port, tmp, ['status: running'], 'VNC after Ctrl-Alt-1 in the window')
    dump = os.path.join(tmp, 'while-console.ppm')
    mon.cmd('screendump %s' % dump)
    if read_ppm(dump)[:2] != (720, 400):
        raise GuestFailure('screendump while the monitor console is shown is not the guest screen')
    # SeaBIOS writes nothing to COM1: an empty console, nothing but its block cursor (8x16).
    w, h, px3 = switch_console(port, 3)
    lit = sum(1 for i in range(0, len(px3), 4) if px3[i] or px3[i + 1] or px3[i + 2])
    if (w, h) != (640, 384) or lit != 8 * 16:
        raise GuestFailure('Ctrl-Alt-3 does not show the empty serial console: %dx%d, %d pixels lit'
                           % (w, h, lit))
    w, h, _ = switch_console(port, 1)
    if (w, h) != (720, 400):
        raise GuestFailure('Ctrl-Alt-1 shows %dx%d, expected the guest screen 720x400' % (w, h))
    wait_vnc_text(port, tmp, ['SeaBIOS'], 'the guest screen after Ctrl-Alt-1')


def window_name():
    wid = subprocess.run(['xdotool', 'search', '--name', '^pcvm'], stdout=subprocess.PIPE,
                         text=True, timeout=30).stdout.split()
    if not wid:
        raise GuestFailure('xdotool finds no pcvm window')
    return subprocess.run(['xdotool', 'getwindowname', wid[0]], stdout=subprocess.PIPE,
                          text=True, timeout=30).stdout.strip()


def kernel_guide_window(log_path, consoles, tmp):
    """The kernel guide's `-kernel kernel.elf -m 512M -smp 4 -vga std -serial stdio` on a desktop
    ($DISPLAY set, no display option): a window opens as QEMU's does, showing the line the
    Multiboot test kernel writes to 0xB8000 (no VGA BIOS ran: pcvm set mode 3 itself);
    Ctrl-Alt-G grabs (the title says how to leave) and releases, Ctrl-Alt-Q quits with status 0."""
    kernel = os.path.join(HERE, '..', '..', 'build', 'tests', 'kernels', 'mb_elf.elf')
    c = Console([emulator(), '-kernel', kernel, '-m', '512M', '-smp', '4', '-vga', 'std',
                 '-serial', 'stdio'], log_path.replace('.log', '-kernel-guide.log'))
    consoles.append(c)
    c.expect(r'test-kernel done', 60, "the test kernel's serial output")
    wait_window_text(tmp, ['HELLO FROM THE TEST KERNEL'],
                     'the default window of the kernel guide line')
    window_keys('ctrl+alt+g')
    deadline = time.monotonic() + 10 * time_scale()
    while 'Ctrl-Alt-G' not in window_name():
        if time.monotonic() > deadline:
            raise GuestFailure('Ctrl-Alt-G: the window title stays %r' % window_name())
        time.sleep(0.2)
    window_keys('ctrl+alt+g')
    while window_name() != 'pcvm':
        if time.monotonic() > deadline:
            raise GuestFailure('Ctrl-Alt-G again: the window title stays %r' % window_name())
        time.sleep(0.2)
    window_keys('ctrl+alt+q')
    status = c.wait_exit(30)
    if status != 0:
        raise GuestFailure('Ctrl-Alt-Q ended pcvm with status %d' % status)


def seabios_part(log_path, consoles, tmp):
    xvfb = None
    env_display = None
    if shutil.which('Xvfb') and shutil.which('import'):
        rfd, wfd = os.pipe()
        xvfb = subprocess.Popen(['Xvfb', '-displayfd', str(wfd), '-screen', '0', '1024x768x24',
                                 '-nolisten', 'tcp'], pass_fds=(wfd,), stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        os.close(wfd)
        num = b''
        while not num.endswith(b'\n'):
            ch = os.read(rfd, 1)
            if not ch:
                break
            num += ch
        os.close(rfd)
        env_display = ':' + num.decode().strip()
    else:
        raise GuestFailure('Xvfb and ImageMagick are needed (scripts/install-deps.sh)')
    try:
        os.environ['DISPLAY'] = env_display
        # The first monitor and COM1 on text consoles (Ctrl-Alt-2 and -3), as QEMU's defaults.
        c, port = start([emulator(), '-m', '64', '-serial', 'vc', '-monitor', 'vc', '-display', 'sdl',
                         '-net', 'none'], log_path.replace('.log', '-seabios.log'), consoles, tmp)
        mon = Monitor(os.path.join(tmp, 'mon'))
        wait_screen(mon, tmp, ['SeaBIOS', 'bootable device'], 90, "SeaBIOS's 'No bootable device.'")

        # screendump, both formats.
        ppm, png = os.path.join(tmp, 'bios.ppm'), os.path.join(tmp, 'bios.png')
        mon.cmd('screendump %s' % ppm)
        mon.cmd('screendump %s -f png' % png)
        w, h, dump = read_ppm(ppm)
        if (w, h) != (720, 400):
            raise GuestFailure('screendump of the 80x25 text screen is %dx%d, expected 720x400' % (w, h))
        with open(png, 'rb') as f:
            if f.read(8) != b'\x89PNG\r\n\x1a\n':
                raise GuestFailure('screendump -f png did not write a PNG')
        expect_text(png, ['SeaBIOS', 'No bootable device'], 'screendump (PNG)')
        # The PNG holds the PPM's pixels (ImageMagick converts it back).
        back = os.path.join(tmp, 'back.ppm')
        subprocess.run(['convert', png, '-depth', '8', back], check=True, timeout=60)
        bw, bh, bpx = read_ppm(back)
        box = diff_box(bpx, dump, w) if (bw, bh) == (w, h) else (0, 0, bw, bh)
        if box and (box[2] - box[0] > 9 or box[3] - box[1] > 16):
            raise GuestFailure('the PNG and PPM screendumps differ (x %d-%d, y %d-%d)' % box)

        # Net::VNC, and two raw clients at once whose pixels equal the screendump's.
        cap = os.path.join(tmp, 'bios-vnc.png')
        size = net_vnc_capture(port, cap)
        if size != '720x400':
            raise GuestFailure('Net::VNC saw a %s screen, expected 720x400' % size)
        expect_text(cap, ['SeaBIOS', 'No bootable device'], 'the Net::VNC capture')
        a, b = Rfb('127.0.0.1', port), Rfb('127.0.0.1', port)
        for r in (a, b):
            rw, rh, px = r.capture()
            rgb = bytearray(rw * rh * 3)
            rgb[0::3], rgb[1::3], rgb[2::3] = px[2::4], px[1::4], px[0::4]
            if (rw, rh) != (w, h):
                raise GuestFailure('a VNC client sees %dx%d, screendump wrote %dx%d' % (rw, rh, w, h))
            box = diff_box(bytes(rgb), dump, w)
            # Only the blinking cursor (one 9x16 cell) may differ between the two moments.
            if box and (box[2] - box[0] > 9 or box[3] - box[1] > 16):
                raise GuestFailure('a VNC client received other pixels than screendump wrote '
                                   '(differences in x %d-%d, y %d-%d)' % box)
        a.close()
        b.close()

        misbehaving_clients(port, seed=23)
        if c.proc.poll() is not None:
            raise GuestFailure('pcvm died while clients misbehaved (status %s)' % c.proc.returncode)
        r = Rfb('127.0.0.1', port)
        rw, rh, _ = r.capture()
        r.close()
        if (rw, rh) != (720, 400):
            raise GuestFailure('after the misbehaving clients the server sends %dx%d' % (rw, rh))
        if mon.cmd('info status') != 'VM status: running':
            raise GuestFailure('the monitor stopped answering after the misbehaving clients')

        # The SDL window, as the X server shows it.
        shot = os.path.join(tmp, 'sdl.png')
        deadline = time.monotonic() + 30 * time_scale()
        while True:
            subprocess.run(['import', '-window', 'root', shot], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60)
            text = ocr(shot) if os.path.exists(shot) else ''
            if 'seabios' in text.lower() and 'bootable device' in text.lower():
                break
            if time.monotonic() > deadline:
                raise GuestFailure('the SDL window under Xvfb does not show SeaBIOS; OCR reads %r'
                                   % text[:300])
            time.sleep(1)

        virtual_consoles(port, mon, tmp)

        mon.cmd('quit')
        status = c.wait_exit(30)
        if status != 0:
            raise GuestFailure('quit from the monitor ended pcvm with status %d' % status)
        mon.close()
        kernel_guide_window(log_path, consoles, tmp)
    finally:
        if xvfb:
            xvfb.terminate()
            xvfb.wait()


def cpu_seconds(pid):
    fields = open('/proc/%d/stat' % pid).read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def measure_idle_cpu(pid, port, seconds=5):
    """Host CPU of the idle pcvm without a viewer, then with one that keeps asking for
    updates, as viewers do (printed; no limit is asserted: the host's load decides too)."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    alone = 100 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
    r = Rfb('127.0.0.1', port)
    r.capture()
    stop = threading.Event()
    updates = [0]

    def viewer():
        while not stop.is_set():
            try:
                r.request(True)
                r.read_update()
                updates[0] += 1
            except (OSError, RfbError):
                return

    t = threading.Thread(target=viewer, daemon=True)
    t.start()
    time.sleep(2)
    c0, t0, u0 = cpu_seconds(pid), time.monotonic(), updates[0]
    time.sleep(seconds)
    pct = 100 * (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
    n = updates[0] - u0
    stop.set()
    r.close()
    print('display: idle guest: %.2f %% of a host core without a viewer, %.2f %% with a VNC '
          'viewer attached (%d updates in %d s)' % (alone, pct, n, seconds))


def linux_part(log_path, consoles, tmp):
    rd = initramfs(BOCHS_MODULES)
    argv = [emulator(), '-m', '256', '-kernel', os.path.join(cache_dir(), 'guests', 'vmlinuz-686'),
            '-initrd', rd, '-append', 'console=ttyS0', '-nographic']
    c, port = start(argv, log_path.replace('.log', '-linux.log'), consoles, tmp)
    c.expect(r'BOOT-OK', 600, 'the initramfs marker BOOT-OK')
    c.expect(r'pcvm:[^\n]*# ', 120, 'the shell prompt')
    log = c.run('dmesg | grep -i -E "bochs|frame ?buffer|fb0"', 60, 'dmesg')
    if not re.search(r'Initialized bochs-drm', log):
        raise GuestFailure('the bochs DRM driver did not initialise: %r' % log[-500:])
    mon = Monitor(os.path.join(tmp, 'mon'))
    c.run(r"printf '\033[2J\033[HHELLO FROM TTY ONE\n' > /dev/tty1", 30, 'tty1')
    wait_screen(mon, tmp, ['HELLO FROM TTY ONE'], 60, 'the text written to /dev/tty1')
    cap = os.path.join(tmp, 'linux-vnc.png')
    size = net_vnc_capture(port, cap)
    if size != '1024x768':
        raise GuestFailure('Net::VNC saw a %s screen, expected the 1024x768 bochs-drm mode' % size)
    expect_text(cap, ['HELLO FROM TTY ONE'], 'the Net::VNC capture of tty1')

    # Keys from a VNC client to a reader of tty1 (Shift added where a symbol needs it).
    c.send('(read -r line < /dev/tty1; echo "TTY1-GOT:$line") &\n')
    time.sleep(2)
    r = Rfb('127.0.0.1', port)
    r.capture()
    r.type_text('vnc Keys_OK!\n')
    c.expect(r'TTY1-GOT:vnc Keys_OK!', 60, 'the keys typed over VNC, read from /dev/tty1')
    r.close()

    # Keys from the monitor's sendkey.
    c.send('(read -r line < /dev/tty1; echo "TTY1-SENDKEY:$line") &\n')
    time.sleep(2)
    for k in ('p', 'c', 'shift-v', 'm', 'ret'):
        out = mon.cmd('sendkey %s' % k)
        if out:
            raise GuestFailure('sendkey %s said: %s' % (k, out))
    c.expect(r'TTY1-SENDKEY:pcVm', 60, 'the keys sent with sendkey, read from /dev/tty1')

    mouse(c, mon, port)
    measure_idle_cpu(c.proc.pid, port)
    mon.close()
    c.send('poweroff -f\n')
    if c.wait_exit(120) != 0:
        raise GuestFailure('poweroff -f did not end pcvm with status 0')


def mice_packets(c, tag, send):
    """Three packets from the guest's /dev/input/mice (its PS/2 mouse, psmouse) while send()
    makes the events; returns them as (buttons and signs, dx, dy) byte triples."""
    c.send('(dd if=/dev/input/mice of=/tmp/%s bs=3 count=3 2>/dev/null; echo "%s:$(od -An -tu1 -v '
           '/tmp/%s | tr -s \' \\n\' \' \')") &\n' % (tag, tag, tag))
    time.sleep(2)
    send()
    m = c.expect(r'%s:((?: \d+){9})' % tag, 60, 'three mouse packets in /dev/input/mice (%s)' % tag)
    v = [int(x) for x in m.group(1).split()]
    return [tuple(v[i:i + 3]) for i in range(0, 9, 3)]


def mouse(c, mon, port):
    """The mouse reaches the guest's PS/2 driver: the monitor's mouse_move and mouse_button,
    and a VNC client's pointer (moves and the left button)."""
    log = c.run('dmesg | grep -i "input:.*mouse"', 60, 'psmouse')
    if 'PS/2' not in log:
        raise GuestFailure('no PS/2 mouse in the kernel log: %r' % log[-300:])

    def monitor_events():
        for cmd in ('mouse_move 10 -5', 'mouse_button 1', 'mouse_button 0'):
            out = mon.cmd(cmd)
            if out:
                raise GuestFailure('%s said: %s' % (cmd, out))
            time.sleep(0.3)
    p = mice_packets(c, 'MICE-MON', monitor_events)
    # PS/2: bit 0 the left button, bit 3 always set; dy counts upwards.
    if p[0] != (8, 10, 5) or p[1][0] & 7 != 1 or p[2][0] & 7 != 0:
        raise GuestFailure('mouse_move 10 -5, mouse_button 1, 0 reached the guest as %r' % p)

    def vnc_events():
        r = Rfb('127.0.0.1', port)
        r.capture()
        for x, y, b in ((300, 300, 0), (340, 280, 0), (340, 280, 1), (340, 280, 0)):
            r.pointer(x, y, b)
            time.sleep(0.3)
        r.close()
    p = mice_packets(c, 'MICE-VNC', vnc_events)
    moved = [q for q in p if q[1] or q[2]]
    if not moved or moved[0][1] <= 0 or not any(q[0] & 1 for q in p):
        raise GuestFailure('VNC pointer moves right and a click reached the guest as %r' % p)


def test(log_path, consoles):
    tmp = tempfile.mkdtemp(prefix='pcvm-display.')
    try:
        seabios_part(log_path, consoles, tmp)
        password_part(log_path, consoles, tmp)
        linux_part(log_path, consoles, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    main(test)
