#!/usr/bin/env python3
"""CPU models: boot Linux with -cpu MODEL and check what /proc/cpuinfo says about the CPU
against the real processor the model stands for (vendor, family, model, Linux's model name,
feature flags that must be there and flags the real chip lacks).

Debian's 686 kernel requires TSC, CX8 and CMOV (CONFIG_X86_TSC/CMPXCHG64/CMOV; its real-mode
setup refuses other CPUs, see arch/x86/boot/cpucheck.c).  The 486 and the Pentium lack CMOV (the
486 also TSC and CX8), so those two are booted with the missing bits forced on
(-cpu 486,+tsc,+cx8,+cmov and -cpu pentium,+cmov): the identity and every other flag is still
the model's own.

  PCVM_CPU_MODELS="486 athlon"   models to boot (default: 486 athlon Broadwell; "all": every model below)
"""
import os
import re

from console import GuestFailure, main
from linux import boot_to_shell, check_clean, power_off

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
DEFAULT = '486 athlon Broadwell'


def parse_cpuinfo(text):
    info = {}
    for line in text.split('\n'):
        m = re.match(r'^([a-z_ ]+?)\s*:\s*(.*)$', line.strip())
        if m and m.group(1) not in info:
            info[m.group(1)] = m.group(2).strip()
    return info


def check_model(log_path, consoles, name):
    cpu_arg, vendor, family, models, name_rx, flags, absent = EXPECT[name]
    try:
        # -no-reboot: a triple fault ends the run at once instead of rebooting in a loop.
        c = boot_to_shell(log_path.replace('.log', '-%s.log' % name), consoles,
                          ['-cpu', cpu_arg, '-no-reboot'])
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
    # On Zen models the kernel advises about its own build (no CPU_SRSO), as on the real chip.
    zen_advice = re.compile(r'^.*Speculative Return Stack Overflow: WARNING.*$', re.M)
    for check in (lambda: power_off(c), lambda: check_clean(zen_advice.sub('', c.text()))):
        try:
            check()
        except GuestFailure as e:
            problems.append(str(e))
    if problems:
        raise GuestFailure('-cpu %s: %s' % (cpu_arg, '; '.join(problems)))


def test(log_path, consoles):
    wanted = os.environ.get('PCVM_CPU_MODELS', DEFAULT).replace(',', ' ').split()
    if wanted == ['all']:
        wanted = list(EXPECT)
    failures = []
    for name in wanted:
        if name not in EXPECT:
            raise GuestFailure('unknown model %r (known: %s)' % (name, ' '.join(EXPECT)))
        try:
            mine = []
            check_model(log_path, mine, name)
            print('  ok -cpu %s' % EXPECT[name][0], flush=True)
        except GuestFailure as e:
            consoles.extend(mine)       # the runner prints the last lines of failed boots only
            failures.append(str(e))
            print('  FAIL %s' % e, flush=True)
        for c in mine:              # a model that failed may still be running: stop it
            c.close()
    if failures:
        raise GuestFailure('%d of %d models failed: %s' % (len(failures), len(wanted), ' || '.join(failures)))


if __name__ == '__main__':
    main(test)
