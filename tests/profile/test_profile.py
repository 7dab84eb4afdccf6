#!/usr/bin/env python3
"""pcvm-profile end to end, on real boots (run by tests/profile/run.sh from make check).

  linux     Debian's 686 kernel + busybox initramfs, --preset linux (kernel, init, shell),
            2 CPU counts x 2 models x 2 samples under --icount, 2 boots at once: results.json
            against the issue's schema, phases in order, both SVGs rendered by rsvg-convert,
            Chrome traces, the samples of each configuration identical (times and instructions).
  kernel    the phases test kernel (tests/kernels/phases.asm, ~0.3 s a boot):
            - a matrix where every -smp 2 boot hangs: those runs are "timeout", named in the
              report, left out of the statistics; a crashing boot is "error";
            - --icount estimates: VERIFIED / PLAUSIBLE / NEEDS_VALIDATION;
            - SIGINT in the middle of a matrix, then --resume keeps the finished runs;
            - --emit-jobs run by GNU parallel, then --merge;
            - the progress line with an ETA on a terminal (script(1));
            - bad input (unknown model, bad regex, empty matrix, bad pcvm option): one line.
Prints PASS/FAIL per check and "profile: N passed, N failed"; exit status 1 if any failed.
Settings: PCVM_PROFILE_TESTS="linux kernel" (default both), PCVM_GUEST_TIME_SCALE (limits).
"""
import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROFILE = os.path.join(ROOT, 'pcvm-profile')
PCVM = os.environ.get('PCVM', os.path.join(ROOT, 'pcvm'))
CACHE = os.environ.get('PCVM_CACHE', os.path.join(os.path.expanduser('~'), '.cache', 'pcvm'))
KERNEL = os.path.join(ROOT, 'build', 'tests', 'kernels', 'phases.bin')
SCALE = float(os.environ.get('PCVM_GUEST_TIME_SCALE', '1'))
PHASE_MARKERS = ['-m', 'start=phases: kernel start', '-m', 'init=phases: init', '-m', 'shell=^# $']

passed = 0
failed = 0


def check(name, ok, detail=''):
    global passed, failed
    if ok:
        passed += 1
        print('PASS %s' % name)
    else:
        failed += 1
        print('FAIL %s%s' % (name, (': ' + detail) if detail else ''))
    sys.stdout.flush()
    return ok


def profile(args, **kw):
    return subprocess.run([PROFILE] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          stdin=subprocess.DEVNULL, **kw)


def kernel_args(append=''):
    a = ['-kernel', KERNEL, '-display', 'none', '-monitor', 'none', '-serial', 'file:boot.log', '-no-reboot']
    if append:
        a += ['-append', append]
    return a


# ---- results.json against the shape ----------------------------------------------

NUM = (int, float)
STAT_KEYS = {'mean', 'median', 'stdev', 'min', 'max'}


def schema_errors(res, names):
    """Every key and type the issue lists (more keys are allowed)."""
    e = []

    def need(obj, key, types, where):
        if not isinstance(obj, dict) or key not in obj:
            e.append('%s: no "%s"' % (where, key))
            return None
        v = obj[key]
        if not isinstance(v, types) or (isinstance(v, bool) and bool not in (types if isinstance(types, tuple) else (types,))):
            e.append('%s.%s: %r is not %s' % (where, key, v, types))
        return v

    tool = need(res, 'tool', dict, 'results')
    if tool is not None:
        need(tool, 'name', str, 'tool')
        need(tool, 'version', str, 'tool')
    need(res, 'host', dict, 'results')
    cmd = need(res, 'command', list, 'results')
    if cmd and not all(isinstance(c, str) for c in cmd):
        e.append('command: not all strings')
    markers = need(res, 'markers', list, 'results') or []
    if [m.get('name') for m in markers] != names or not all(isinstance(m.get('regex'), str) for m in markers):
        e.append('markers: %r' % markers)
    need(res, 'icount', bool, 'results')
    jobs = need(res, 'jobs', int, 'results')
    if isinstance(jobs, int) and jobs < 1:
        e.append('jobs < 1')
    for i, r in enumerate(need(res, 'runs', list, 'results') or []):
        w = 'runs[%d]' % i
        for k, t in (('id', str), ('cpu', str), ('smp', int), ('sample', int), ('status', str), ('log', str)):
            need(r, k, t, w)
        if r.get('status') not in ('ok', 'timeout', 'error'):
            e.append('%s.status %r' % (w, r.get('status')))
        need(r, 'total_ms', NUM + (type(None),), w)
        ph = need(r, 'phases_ms', dict, w) or {}
        if list(ph) != names or not all(isinstance(v, NUM + (type(None),)) for v in ph.values()):
            e.append('%s.phases_ms %r' % (w, ph))
        need(r, 'instructions', (int, type(None)), w)
    for i, c in enumerate(need(res, 'configurations', list, 'results') or []):
        w = 'configurations[%d]' % i
        for k, t in (('cpu', str), ('smp', int), ('n', int)):
            need(c, k, t, w)
        tot = need(c, 'total_ms', dict, w) or {}
        if set(tot) < STAT_KEYS:
            e.append('%s.total_ms keys %r' % (w, sorted(tot)))
        ph = need(c, 'phases_ms', dict, w) or {}
        if list(ph) != names or any(set(v) < STAT_KEYS for v in ph.values()):
            e.append('%s.phases_ms %r' % (w, ph))
        need(c, 'speedup', NUM + (type(None),), w)
        need(c, 'efficiency', NUM + (type(None),), w)
        est = c.get('estimate', 'missing')
        if est == 'missing':
            e.append('%s: no "estimate"' % w)
        elif est is not None:
            need(est, 'expected_ms', NUM, w + '.estimate')
            need(est, 'error_percent', NUM, w + '.estimate')
            if est.get('status') not in ('VERIFIED', 'PLAUSIBLE', 'NEEDS_VALIDATION'):
                e.append('%s.estimate.status %r' % (w, est.get('status')))
    return e


def load(path):
    with open(path) as f:
        return json.load(f)


def phases_in_order(run, names):
    vals = [run['phases_ms'][n] for n in names]
    if any(v is None for v in vals):
        return False
    return all(a <= b for a, b in zip(vals, vals[1:])) and vals[-1] <= run['total_ms']


def svg_renders(path):
    png = path + '.png'
    r = subprocess.run(['rsvg-convert', '-o', png, path], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ok = r.returncode == 0 and os.path.getsize(png) > 1000
    return ok, r.stdout.strip()


def trace_ok(path, names):
    t = load(path)
    slices = [e['name'] for e in t['traceEvents'] if e.get('ph') == 'X' and not e['name'].startswith('before ')]
    good = all(isinstance(e.get('ts'), NUM) for e in t['traceEvents'] if e.get('ph') in ('X', 'i'))
    return good and slices == names


def check_outputs(tag, out, names, expect_ok):
    res = load(os.path.join(out, 'results.json'))
    errs = schema_errors(res, names)
    check('%s: results.json has the issue\'s shape' % tag, not errs, '; '.join(errs[:5]))
    ok_runs = [r for r in res['runs'] if r['status'] == 'ok']
    check('%s: %d runs ok' % (tag, expect_ok), len(ok_runs) == expect_ok,
          ', '.join('%s=%s' % (r['id'], r['status']) for r in res['runs']))
    bad = [r['id'] for r in ok_runs if not phases_in_order(r, names)]
    check('%s: every phase found, in order' % tag, not bad, ' '.join(bad))
    for svg in ('timeline.svg', 'scaling.svg'):
        ok, msg = svg_renders(os.path.join(out, svg))
        check('%s: rsvg-convert renders %s' % (tag, svg), ok, msg)
    traces = [os.path.join(out, r['trace']) for r in ok_runs]
    check('%s: a Chrome trace per run with the phases' % tag, traces and all(trace_ok(p, names) for p in traces))
    logs = [os.path.join(out, r['log']) for r in res['runs']]
    check('%s: a console log per run' % tag, all(os.path.getsize(p) > 0 for p in logs))
    rep = open(os.path.join(out, 'report.txt')).read()
    check('%s: report.txt has the tables' % tag, 'Table 1.' in rep and 'Table 4.' in rep, rep[:200])
    return res


# ---- Linux --------------------------------------------------------------------------------

def test_linux(tmp):
    kernel = os.path.join(CACHE, 'guests', 'vmlinuz-686')
    initrd = os.path.join(ROOT, 'build', 'profile', 'initramfs.cpio.gz')
    r = subprocess.run(['bash', os.path.join(ROOT, 'scripts', 'make-initramfs.sh'), '-o', initrd],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not check('linux: initramfs built', r.returncode == 0 and os.path.exists(kernel), r.stdout[-300:]):
        return
    out = os.path.join(tmp, 'linux')
    t0 = time.time()
    r = profile(['--preset', 'linux', '-s', '1,2', '-c', 'pentium3,athlon', '-n', '2', '-j', '2', '--icount',
                 '-t', str(int(300 * SCALE)), '-o', out, '--', 'qemu-system-i386', '-m', '256', '-kernel', kernel,
                 '-initrd', initrd, '-append', 'console=ttyS0 cryptomgr.notests', '-display', 'none',
                 '-monitor', 'none', '-serial', 'file:boot.log'])
    took = time.time() - t0
    if not check('linux: 8-boot matrix ran (%.0f s)' % took, r.returncode == 0, (r.stderr or r.stdout)[-500:]):
        if not os.path.exists(os.path.join(out, 'results.json')):
            return
    names = ['kernel', 'init', 'shell']
    res = check_outputs('linux', out, names, 8)
    check('linux: icount recorded', res['icount'] is True and res['jobs'] == 2, 'jobs=%s' % res['jobs'])
    diffs = []
    for c in res['configurations']:
        rs = [r for r in res['runs'] if r['cpu'] == c['cpu'] and r['smp'] == c['smp'] and r['status'] == 'ok']
        if len(rs) != 2:
            diffs.append('%s/%d: %d ok' % (c['cpu'], c['smp'], len(rs)))
            continue
        a, b = rs
        for k in ('phases_ms', 'phases_insns', 'instructions', 'total_ms'):
            if a[k] != b[k]:
                diffs.append('%s/%d %s: %r vs %r' % (c['cpu'], c['smp'], k, a[k], b[k]))
    check('linux: --icount samples identical (phase times and instructions)', not diffs, '; '.join(diffs[:4]))
    kinds = {(c['cpu'], c['smp']): c for c in res['configurations']}
    check('linux: speedup and efficiency against smp 1',
          all(kinds[(m, 1)]['speedup'] == 1.0 and kinds[(m, 2)]['efficiency'] is not None for m in ('pentium3', 'athlon')))


# ---- The phases test kernel ---------------------------------------------------------------

def test_timeout_and_error(tmp):
    out = os.path.join(tmp, 'timeout')
    r = profile(['-s', '1,2', '-c', 'pentium3', '-n', '2', '-j', '2', '-t', '3'] + PHASE_MARKERS +
                ['-o', out, '--'] + kernel_args('hang-smp'))
    check('timeout: profile finished', r.returncode == 0, r.stderr[-300:])
    res = check_outputs('timeout', out, ['start', 'init', 'shell'], 2)
    runs = {x['id']: x for x in res['runs']}
    to = [runs.get('pentium3-smp2-s%d' % i, {}).get('status') for i in (1, 2)]
    check('timeout: the hanging boots are "timeout" and keep their log', to == ['timeout', 'timeout'] and
          all(os.path.getsize(os.path.join(out, runs['pentium3-smp2-s%d' % i]['log'])) > 0 for i in (1, 2)), str(to))
    confs = {c['smp']: c for c in res['configurations']}
    ok_totals = [x['total_ms'] for x in res['runs'] if x['status'] == 'ok']
    check('timeout: left out of the statistics', confs[2]['n'] == 0 and confs[2]['total_ms']['mean'] is None and
          confs[1]['n'] == 2 and abs(confs[1]['total_ms']['mean'] - sum(ok_totals) / 2) < 1e-9, json.dumps(confs)[:300])
    rep = open(os.path.join(out, 'report.txt')).read()
    check('timeout: named in the report', 'pentium3-smp2-s1: timeout' in rep and 'pentium3-smp2-s2: timeout' in rep)
    out2 = os.path.join(tmp, 'crash')
    r = profile(['-c', 'pentium3', '-n', '1', '-t', '20'] + PHASE_MARKERS + ['-o', out2, '--'] + kernel_args('crash'))
    res2 = load(os.path.join(out2, 'results.json'))
    check('crash: a boot that dies is "error" with the start phase kept',
          res2['runs'][0]['status'] == 'error' and res2['runs'][0]['phases_ms']['start'] is not None and
          res2['configurations'][0]['n'] == 0, json.dumps(res2['runs'][0])[:300])


def test_icount_estimates(tmp):
    out = os.path.join(tmp, 'icount')
    est = os.path.join(tmp, 'estimates.csv')
    # The kernel's phases are fixed instruction counts: init after about 6,000,900 (two work
    # loops of 3,000,000, plus scans of the command line, which holds the kernel's path and so
    # depends on where the repository is), and the end exactly 12,000,441 later (two more work
    # loops and a message); 8 ns per instruction under -icount shift=3 (about 144.01 ms).
    with open(est, 'w') as f:
        f.write('cpu,smp,phase,expected_ms\n*,*,total,140\n*,1,init,42\n*,2,init,30\n')
    r = profile(['-s', '1,2', '-c', 'pentium3', '-n', '2', '-j', '2', '--icount', '--estimates', est] + PHASE_MARKERS +
                ['-o', out, '--'] + kernel_args())
    check('icount: profile finished', r.returncode == 0, r.stderr[-300:])
    res = check_outputs('icount', out, ['start', 'init', 'shell'], 4)
    ins = sorted(set((x['phases_insns']['init'], x['instructions'], x['total_ms']) for x in res['runs']))
    check('icount: every run the same instruction counts and times', len(ins) == 1 and
          6000000 < ins[0][0] < 6010000 and ins[0][1] - ins[0][0] == 12000441 and
          abs(ins[0][2] - ins[0][1] * 8e-6) < 1e-6, str(ins))
    c = {x['smp']: x for x in res['configurations']}
    got = (c[1]['estimate']['status'], c[1]['phase_estimates']['init']['status'],
           c[2]['phase_estimates']['init']['status'])
    check('icount: estimates VERIFIED (+2.9 %), PLAUSIBLE (+14.3 %), NEEDS_VALIDATION (+60.0 %)',
          got == ('VERIFIED', 'PLAUSIBLE', 'NEEDS_VALIDATION'), str(got))
    rep = open(os.path.join(out, 'report.txt')).read()
    check('icount: report compares with the estimates and says samples are identical',
          'NEEDS_VALIDATION' in rep and 'pentium3/1: identical' in rep)


def test_resume(tmp):
    out = os.path.join(tmp, 'resume')
    args = ['-s', '1,2', '-c', 'pentium3,pentium2,486', '-n', '2', '-j', '1', '-t', '20'] + PHASE_MARKERS + \
        ['-o', out, '--'] + kernel_args()
    p = subprocess.Popen([PROFILE] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL)
    runs_dir = os.path.join(out, 'runs')
    deadline = time.time() + 60 * SCALE
    while time.time() < deadline and p.poll() is None:
        if os.path.isdir(runs_dir) and len([f for f in os.listdir(runs_dir) if f.endswith('.json')]) >= 2:
            break
        time.sleep(0.02)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    res = load(os.path.join(out, 'results.json'))
    kept = {x['id']: x['started'] for x in res['runs']}
    check('resume: SIGINT stops the matrix with the finished runs saved (%d of 12)' % len(kept),
          p.returncode == 130 and 2 <= len(kept) < 12 and 'interrupted' in err, 'status %s, %s' % (p.returncode, err[-200:]))
    r = profile(args[:-len(kernel_args()) - 1] + ['--resume', '--'] + kernel_args())
    res = load(os.path.join(out, 'results.json'))
    again = {x['id']: x['started'] for x in res['runs']}
    check('resume: --resume keeps the finished runs and does the rest', r.returncode == 0 and len(again) == 12 and
          all(again[k] == v for k, v in kept.items()) and ('%d run(s) kept' % len(kept)) in r.stderr,
          r.stderr[-300:])


def test_emit_jobs_parallel_merge(tmp):
    out = os.path.join(tmp, 'jobs')
    r = profile(['-s', '1,2', '-c', 'pentium3,athlon', '-n', '2', '-t', '20'] + PHASE_MARKERS + ['-o', out, '--emit-jobs',
                '--'] + kernel_args())
    jobs = r.stdout.splitlines()
    check('jobs: --emit-jobs prints one command per run', r.returncode == 0 and len(jobs) == 8 and
          all('--run' in j for j in jobs), r.stderr[-200:])
    jobfile = os.path.join(tmp, 'jobs.txt')
    with open(jobfile, 'w') as f:
        f.write(r.stdout)
    p = subprocess.run(['parallel', '--will-cite', '-j', '2'], stdin=open(jobfile), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, cwd=tmp)
    check('jobs: GNU parallel runs them', p.returncode == 0, p.stdout[-300:])
    m = profile(['--merge', out])
    check('jobs: --merge rebuilds the results', m.returncode == 0, m.stderr[-300:])
    res = check_outputs('jobs', out, ['start', 'init', 'shell'], 8)
    check('jobs: --merge counts the boots that ran together', res['jobs'] in (1, 2), str(res['jobs']))


def test_progress_tty(tmp):
    out = os.path.join(tmp, 'tty')
    cmd = ' '.join(shlex.quote(a) for a in [PROFILE, '-c', 'pentium3', '-n', '2', '-j', '1'] + PHASE_MARKERS +
                   ['-o', out, '--'] + kernel_args())
    r = subprocess.run(['script', '-qfec', cmd, '/dev/null'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       stdin=subprocess.DEVNULL)
    text = r.stdout.decode('utf-8', 'replace')
    check('progress: on a terminal, a rewritten line with runs done and an ETA',
          re.search(r'\r\x1b\[K\[1/2\] running: pentium3-smp1-s2 \| ETA \d+m\d\ds', text) is not None,
          repr(text[:300]))


def test_bad_input(tmp):
    cases = [
        (['-c', 'pentium3,z80'] + PHASE_MARKERS + ['--'] + kernel_args(), 'z80'),
        (['-m', 'start=phases: (unclosed', '--'] + kernel_args(), 'does not compile'),
        (['-c', ''] + PHASE_MARKERS + ['--'] + kernel_args(), 'empty'),
        (['-s', '1,,2'] + PHASE_MARKERS + ['--'] + kernel_args(), 'empty'),
        (['-n', '0'] + PHASE_MARKERS + ['--'] + kernel_args(), 'at least 1'),
        (['--preset', 'beos', '--'] + kernel_args(), 'unknown preset'),
        (PHASE_MARKERS + ['--', '-frobnicate'], 'frobnicate'),
        (PHASE_MARKERS, 'no pcvm arguments'),
        (['--merge', os.path.join(tmp, 'nothing-here')], 'profile.json'),
    ]
    for args, word in cases:
        name = ' '.join(args[:2])
        if '--merge' not in args:
            args = ['-o', os.path.join(tmp, 'bad')] + args
        r = profile(args, cwd=tmp)
        lines = r.stderr.splitlines()
        check('bad input %s: one line' % name, r.returncode == 2 and len(lines) == 1 and
              word in lines[0] and lines[0].startswith('pcvm-profile: ') and not r.stdout,
              'status %d: %r' % (r.returncode, r.stderr))


def test_helpers(tmp):
    """The tool's pure parts, without booting: -smp forms, marker order, prompts, thresholds."""
    import importlib.util
    spec = importlib.util.spec_from_file_location('pcvm_profile', os.path.join(ROOT, 'tools', 'pcvm-profile.py'))
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)
    smp = [m.args_smp(a) for a in (['-smp', '4'], ['-smp', 'cores=4,threads=2,sockets=1'], ['-smp', 'cpus=3'], [])]
    check('helpers: CPU count from -smp N, cores x threads x sockets, cpus=, absent', smp == [4, 8, 3, 1], str(smp))

    def feed(matcher, text, t0=0):
        for i, ch in enumerate(text.encode('latin-1')):
            matcher.feed(t0 + i, t0 + i, t0 + i, 'serial0', ch)

    pm = m.PhaseMatcher([('a', 'alpha'), ('b', 'beta'), ('c', 'gamma')], None)
    feed(pm, 'x\nbeta here\nalpha late\ngamma\n')
    check('helpers: a later marker makes earlier ones unreachable (phases stay in order)',
          'a' not in pm.found and pm.found['b'][0] == 2 and pm.found['c'][0] == 23 and pm.done, str(pm.found))
    pm = m.PhaseMatcher([('boot', 'Linux'), ('prompt', r'login: $')], None)
    feed(pm, 'Linux 6\r\n\x1b[1mhost\x1b[0m login: ')
    check('helpers: a prompt without a newline matches, at its line\'s first byte, colours ignored',
          pm.done and pm.found['prompt'][0] == 9 and pm.end_stamp == pm.found['prompt'], str(pm.found))
    cls = [m.classify(e) for e in (9.99, -10, 20, 20.01, -35)]
    check('helpers: VERIFIED < 10 %, PLAUSIBLE 10-20 %, NEEDS_VALIDATION > 20 %',
          cls == ['VERIFIED', 'PLAUSIBLE', 'PLAUSIBLE', 'NEEDS_VALIDATION', 'NEEDS_VALIDATION'], str(cls))


def main():
    which = os.environ.get('PCVM_PROFILE_TESTS', 'linux kernel').replace(',', ' ').split()
    tmp = tempfile.mkdtemp(prefix='pcvm-profile-test.')
    t0 = time.time()
    if 'kernel' in which:
        r = subprocess.run(['bash', os.path.join(ROOT, 'tests', 'kernels', 'build.sh'),
                            os.path.join(ROOT, 'build', 'tests', 'kernels')], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if check('kernel: phases test kernel built', r.returncode == 0, r.stdout[-300:]):
            for t in (test_helpers, test_bad_input, test_timeout_and_error, test_icount_estimates, test_resume,
                      test_emit_jobs_parallel_merge, test_progress_tty):
                try:
                    t(tmp)
                except Exception as e:  # a crash of one test is a failure, not the end of the run
                    check(t.__name__, False, '%s: %s' % (type(e).__name__, e))
    if 'linux' in which:
        try:
            test_linux(tmp)
        except Exception as e:
            check('test_linux', False, '%s: %s' % (type(e).__name__, e))
    print('profile: %d passed, %d failed (%.0f s; outputs in %s)' % (passed, failed, time.time() - t0, tmp))
    if not failed:
        subprocess.run(['rm', '-rf', tmp])
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
