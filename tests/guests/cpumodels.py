#!/usr/bin/env python3
"""CPU models: boot Linux with -cpu MODEL and check what /proc/cpuinfo says about the CPU
against the real processor the model stands for (vendor, family, model, Linux's model name,
feature flags that must be there and flags the real chip lacks).

Debian's 686 kernel requires TSC, CX8 and CMOV (CONFIG_X86_TSC/CMPXCHG64/CMOV; its real-mode
setup refuses other CPUs, see arch/x86/boot/cpucheck.c).  The 486 and the Pentium lack CMOV (the
486 also TSC and CX8), so those two are booted with the missing bits forced on
(-cpu 486,+tsc,+cx8,+cmov and -cpu pentium,+cmov): the identity and every other flag is still
the model's own.

Issue 19: the models with SSE2 also run tests/cpu/fpu/float-prog.c, built twice (x87 and SSE2
maths, by build-float-prog.sh) and appended to the initramfs, in the same boot.  Each output must
be the native run's where this host runs 32-bit programs (the reference of guest-float.sh), and
identical across every model booted in any case.  Models without SSE2 are left out: glibc's libm
picks SSE2 code paths by CPUID, so their x87 output may legitimately differ.

Boots run two at a time (PCVM_CPU_MODELS_JOBS, default 2).

  PCVM_CPU_MODELS="486 athlon"   models to boot (default: DEFAULT below; "all": every model below)
"""
import hashlib
import os
import re
import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

from console import GuestFailure, main
from linux import ROOT, boot_to_shell, check_clean, initramfs, power_off

# model: (-cpu argument, vendor, family, models allowed, model name regex, flags, absent flags)
# Names are Linux's: its family/model table when the CPU has no brand string (486, Pentium,
# Pentium II), else the brand string (CPUID 0x80000002..4).
EXPECT = {
    '486': ('486,+tsc,+cx8,+cmov', 'GenuineIntel', 4, {8, 9}, r'486 DX/4',
            {'fpu', 'tsc', 'cx8', 'cmov'}, {'mmx', 'sse', 'sse2', 'pge', 'pae', 'apic', 'mtrr', 'fxsr'}),
    'pentium': ('pentium,+cmov', 'GenuineIntel', 5, {1, 2}, r'Pentium (60/66|75 - 200)',
                {'fpu', 'tsc', 'cx8', 'de', 'pse', 'msr', 'mce'}, {'mmx', 'sse', 'sse2', 'pae', 'mtrr', 'fxsr'}),
    'pentium2': ('pentium2', 'GenuineIntel', 6, {3, 5, 6}, r'Pentium II|Celeron',
                 {'fpu', 'tsc', 'cx8', 'cmov', 'mmx', 'fxsr', 'pge', 'mtrr', 'sep'}, {'sse', 'sse2', 'pni'}),
    'pentium3': ('pentium3', 'GenuineIntel', 6, {7, 8, 10, 11}, r'Pentium(\(R\))? III',
                 {'fpu', 'tsc', 'cx8', 'cmov', 'mmx', 'fxsr', 'sse'}, {'sse2', 'pni'}),
    'athlon': ('athlon', 'AuthenticAMD', 6, {1, 2, 4, 6, 8, 10}, r'Athlon',
               {'fpu', 'tsc', 'cx8', 'cmov', 'mmx', 'fxsr', 'sse', 'mmxext'}, {'sse2', 'pni'}),
    'coreduo': ('coreduo', 'GenuineIntel', 6, {14}, r'(Core|T2[0-9]{3})',
                {'fpu', 'tsc', 'cx8', 'cmov', 'mmx', 'fxsr', 'sse', 'sse2', 'pni'}, {'lm'}),
    # QEMU's models (their identity from qemu-system-i386; only the features pcvm implements).
    'qemu32': ('qemu32', 'GenuineIntel', 6, {6}, r'QEMU Virtual CPU version 2\.5\+',
               {'fpu', 'tsc', 'cx8', 'cmov', 'mmx', 'fxsr', 'sse', 'sse2', 'pni', 'hypervisor'}, {'ssse3', 'lm'}),
    'core2duo': ('core2duo', 'GenuineIntel', 6, {15}, r'Core\(TM\)2 Duo CPU +T7700',
                 {'fpu', 'cmov', 'sse', 'sse2', 'pni', 'hypervisor', 'ssse3', 'nx'}, {'sse4_1', 'lm'}),
    'Nehalem': ('Nehalem', 'GenuineIntel', 6, {26}, r'Nehalem Class Core i7',
                {'fpu', 'cmov', 'sse', 'sse2', 'pni', 'hypervisor', 'popcnt', 'ssse3', 'sse4_1', 'sse4_2'},
                {'aes', 'avx', 'movbe'}),
    'Haswell': ('Haswell', 'GenuineIntel', 6, {60}, r'Intel Core Processor \(Haswell\)',
                {'fpu', 'cmov', 'sse', 'sse2', 'pni', 'hypervisor', 'popcnt', 'abm', 'ssse3', 'sse4_1',
                 'sse4_2', 'aes', 'pclmulqdq', 'movbe', 'bmi1', 'bmi2', 'rdrand', 'rdtscp', 'nx', 'smep'},
                {'avx', 'avx2', 'fma', 'f16c', 'adx'}),
    # Broadwell adds SMAP: Linux turns CR4.SMAP on and brackets its user accesses with
    # STAC/CLAC, so the boot to a shell and the power-off exercise it.
    'Broadwell': ('Broadwell', 'GenuineIntel', 6, {61}, r'Intel Core Processor \(Broadwell\)',
                  {'fpu', 'cmov', 'sse', 'sse2', 'pni', 'hypervisor', 'popcnt', 'abm', 'ssse3', 'sse4_1',
                   'sse4_2', 'aes', 'pclmulqdq', 'movbe', 'bmi1', 'bmi2', 'adx', 'rdrand', 'rdseed', 'rdtscp',
                   'nx', 'smep', 'smap'},
                  {'avx', 'avx2', 'fma', 'f16c'}),
    'EPYC': ('EPYC', 'AuthenticAMD', 23, {1}, r'AMD EPYC Processor',
             {'fpu', 'cmov', 'sse', 'sse2', 'pni', 'hypervisor', 'ssse3', 'sse4_1', 'sse4_2', 'aes',
              'pclmulqdq', 'movbe', 'adx', 'bmi1', 'bmi2', 'rdrand', 'rdseed', 'rdtscp', 'nx', 'smep', 'smap'},
             {'avx', 'sha_ni'}),
    'max': ('max', 'GenuineIntel', 6, {15}, r'pcvm max CPU',
            {'fpu', 'cmov', 'sse', 'sse2', 'pni', 'clflush', 'popcnt', 'abm', 'ssse3', 'sse4_1', 'sse4_2',
             'aes', 'pclmulqdq', 'movbe', 'adx', 'bmi1', 'bmi2', 'rdrand', 'rdseed', 'rdtscp', 'rdpid',
             'nx', 'smep', 'smap', 'umip'},
            {'avx', 'lm'}),
}
# make check: every model issue 19 names (qemu32, core2duo, Nehalem, Haswell, EPYC, max) and three
# that test other paths (a 486 with forced bits, an AMD chip without SSE2, SMAP on Broadwell).
DEFAULT = '486 athlon Broadwell qemu32 core2duo Nehalem Haswell EPYC max'
FLOAT_VARIANTS = ('x87', 'sse2')
FLOAT_DIR = os.path.join('build', 'tests', 'guests', 'cpumodels-float')


def float_initramfs():
    """Build the two float programs and the busybox initramfs with them appended (a second cpio
    archive: Linux unpacks concatenated archives into the same rootfs); returns its path and
    the native outputs ({variant: text}, empty when this host cannot run 32-bit programs)."""
    r = subprocess.run(['bash', os.path.join(ROOT, 'tests', 'cpu', 'fpu', 'build-float-prog.sh'), FLOAT_DIR],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        raise GuestFailure('build-float-prog.sh failed: %s' % r.stdout.strip()[-500:])
    out = os.path.join(FLOAT_DIR, 'initramfs-float.cpio.gz')
    shutil.copy(initramfs(), out)
    with open(out, 'ab') as f:
        f.write(b'\0' * ((4 - f.tell() % 4) % 4))    # cpio archives start 4-byte aligned
    progs = '\n'.join('float-prog-%s' % v for v in FLOAT_VARIANTS) + '\n'
    cpio = subprocess.run(['cpio', '-o', '-H', 'newc', '--owner', '0:0', '--quiet'], input=progs.encode(),
                          cwd=FLOAT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if cpio.returncode != 0:
        raise GuestFailure('cpio failed: %s' % cpio.stderr.decode().strip())
    gz = subprocess.run(['gzip', '-9'], input=cpio.stdout, stdout=subprocess.PIPE, check=True)
    with open(out, 'ab') as f:
        f.write(gz.stdout)
    native = {}
    for v in FLOAT_VARIANTS:
        path = os.path.join(FLOAT_DIR, 'float-prog-%s.native.txt' % v)
        if os.path.exists(path):
            with open(path) as f:
                native[v] = f.read()
    return out, native


def run_float(c, variant):
    """Run one float program in the guest; returns (MD5 of its output, the output as the console
    showed it).  The MD5 is what is compared: a kernel message printed during the cat would only
    spoil the text, which serves to show where outputs differ."""
    out = c.run('/float-prog-%s > /tmp/f.out; echo "FLOAT-STATUS $? $(md5sum < /tmp/f.out)"; cat /tmp/f.out'
                % variant, 600, 'float-%s' % variant)
    m = re.search(r'^FLOAT-STATUS (\d+) ([0-9a-f]{32}) ', out, re.M)
    if not m or m.group(1) != '0':
        raise GuestFailure('float-prog-%s ended with status %s' % (variant, m.group(1) if m else '?'))
    return m.group(2), out[m.end():].split('\n', 1)[-1].strip('\n') + '\n'


def parse_cpuinfo(text):
    info = {}
    for line in text.split('\n'):
        m = re.match(r'^([a-z_ ]+?)\s*:\s*(.*)$', line.strip())
        if m and m.group(1) not in info:
            info[m.group(1)] = m.group(2).strip()
    return info


def check_model(log_path, consoles, name, initrd, floats):
    """Boot one model, check /proc/cpuinfo; models with SSE2 put their float programs' output
    in floats[name] = {variant: (MD5, text)}."""
    cpu_arg, vendor, family, models, name_rx, flags, absent = EXPECT[name]
    try:
        # -no-reboot: a triple fault ends the run at once instead of rebooting in a loop.
        c = boot_to_shell(log_path.replace('.log', '-%s.log' % name), consoles,
                          ['-cpu', cpu_arg, '-no-reboot'], initrd=initrd)
    except GuestFailure as e:
        raise GuestFailure('-cpu %s does not boot: %s' % (cpu_arg, e))
    out = c.run("sed -n '1,/^$/p' /proc/cpuinfo", 60, 'cpuinfo')
    info = parse_cpuinfo(out)
    problems = []
    if info.get('vendor_id') != vendor:
        problems.append('vendor_id %r, expected %s' % (info.get('vendor_id'), vendor))
    if info.get('cpu family') != str(family):
        problems.append('cpu family %r, expected %d' % (info.get('cpu family'), family))
    if not info.get('model', '').isdigit() or int(info['model']) not in models:
        problems.append('model %r, expected one of %s' % (info.get('model'), sorted(models)))
    if not re.search(name_rx, info.get('model name', '')):
        problems.append('model name %r does not match %s' % (info.get('model name'), name_rx))
    have = set(info.get('flags', '').split())
    if not have:
        problems.append('no flags line in /proc/cpuinfo')
    else:
        if flags - have:
            problems.append('flags lack %s' % ' '.join(sorted(flags - have)))
        if absent & have:
            problems.append('flags have %s, which the real %s lacks' % (' '.join(sorted(absent & have)), name))
        print('  -cpu %s: model name "%s", flags: %s' % (cpu_arg, info.get('model name'), ' '.join(sorted(have))),
              flush=True)
    if 'sse2' in have:
        try:
            floats[name] = {v: run_float(c, v) for v in FLOAT_VARIANTS}
        except GuestFailure as e:
            problems.append(str(e))
    # On Zen models the kernel advises about its own build (no CPU_SRSO), as on the real chip.
    zen_advice = re.compile(r'^.*Speculative Return Stack Overflow: WARNING.*$', re.M)
    for check in (lambda: power_off(c), lambda: check_clean(zen_advice.sub('', c.text()))):
        try:
            check()
        except GuestFailure as e:
            problems.append(str(e))
    if problems:
        raise GuestFailure('-cpu %s: %s' % (cpu_arg, '; '.join(problems)))


def compare_floats(floats, native):
    """Problems when a model's float output differs from the native one (if any) or from the
    first model's; prints what was compared."""
    problems = []
    if not floats:
        return problems
    names = list(floats)
    for v in FLOAT_VARIANTS:
        if v in native:
            ref_name, ref = 'the native run', (hashlib.md5(native[v].encode()).hexdigest(), native[v])
        else:
            ref_name, ref = names[0], floats[names[0]][v]
        differ = [n for n in names if floats[n][v][0] != ref[0]]
        for n in differ:
            a, b = ref[1].split('\n'), floats[n][v][1].split('\n')
            k = next((j for j in range(min(len(a), len(b))) if a[j] != b[j]), min(len(a), len(b)))
            problems.append('float-prog-%s on %s differs from %s (MD5 %s, not %s), first at line %d: %r, not %r' %
                            (v, n, ref_name, floats[n][v][0], ref[0], k + 1, b[k] if k < len(b) else '',
                             a[k] if k < len(a) else ''))
        if not differ:
            print('  float-prog-%s: output identical (%d lines, MD5 %s) on %s%s' %
                  (v, ref[1].count('\n'), ref[0], ', '.join(names),
                   ' and natively' if v in native else '; no native reference: this host cannot run 32-bit '
                   'programs'), flush=True)
    return problems


def test(log_path, consoles):
    wanted = os.environ.get('PCVM_CPU_MODELS', DEFAULT).replace(',', ' ').split()
    if wanted == ['all']:
        wanted = list(EXPECT)
    for name in wanted:
        if name not in EXPECT:
            raise GuestFailure('unknown model %r (known: %s)' % (name, ' '.join(EXPECT)))
    initrd, native = float_initramfs()
    failures, floats, lock = [], {}, threading.Lock()

    def one(name):
        mine = []
        try:
            check_model(log_path, mine, name, initrd, floats)
            print('  ok -cpu %s' % EXPECT[name][0], flush=True)
        except GuestFailure as e:
            with lock:
                consoles.extend(mine)   # the runner prints the last lines of failed boots only
                failures.append(str(e))
            print('  FAIL %s' % e, flush=True)
        for c in mine:              # a model that failed may still be running: stop it
            c.close()

    jobs = max(1, int(os.environ.get('PCVM_CPU_MODELS_JOBS', '2')))
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(one, wanted))
    # In the order of the list, whichever boot finished first.
    failures += compare_floats({n: floats[n] for n in wanted if n in floats}, native)
    if failures:
        raise GuestFailure('%d problems over %d models: %s' % (len(failures), len(wanted), ' || '.join(failures)))


if __name__ == '__main__':
    main(test)
