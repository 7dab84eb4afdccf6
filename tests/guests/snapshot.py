#!/usr/bin/env python3
"""Whole-machine snapshots with Debian's 686 Linux on a qcow2 disk; one boot for every check.

The guest (256 MiB, -smp 2, busybox initramfs, ata_piix, the default e1000 on user networking) writes a marker in RAM (/tmp on
the initramfs), starts a counter that ticks once a second (timer interrupts) and writes a block
of its disk; then, over the HMP socket:
  - `savevm snap1`; `info snapshots` lists snap1 with a VM size;
  - the guest changes the marker and the disk block and its counter goes on;
  - `loadvm snap1`: the guest is back at the marker and the old block (page cache dropped, so
    read from the disk), its counter restarts from the saved value and keeps ticking, the serial
    console answers;
  - QMP `snapshot-save` (job: created .. concluded, query-jobs, job-dismiss), `snapshot-load`
    and `snapshot-delete` of a second snapshot;
  - savevm and loadvm again and again (11 operations over 4 snapshots, back to older ones too)
    while the guest rewrites, syncs and reads back 16 sectors of its disk and compares them with
    its copy in RAM: no sector may differ;
  - a loadvm maps the saved RAM from the image: after `delvm` of that snapshot and a `savevm`
    that reuses its clusters, 8 MiB in /tmp untouched since the loadvm keep their md5sum;
  - `migrate "exec:cat > FILE"` and `migrate file:FILE` (the source then stays stopped in
    postmigrate, `info migrate` says completed, `cont` resumes it);
after quitting, `qemu-img snapshot -l` lists snap1 with a VM size and `qemu-img check` is
clean; then fresh machines start from the saved states and answer at the prompt with the
marker: `-loadvm snap1`, `-incoming file:FILE` (RAM mapped copy-on-write) and
`-incoming "exec:cat FILE"`. Without a guest: a writable raw drive makes savevm refuse with one
line naming it, and a corrupt, truncated or foreign state is refused with one line.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time

from console import Console, GuestFailure, cache_dir, emulator, main, time_scale
from linux import initramfs
from monitor import Hmp, Qmp

# ata_piix and the SCSI disk driver (with its CRC helpers): the guest's /dev/sda is the qcow2 disk.
DISK_MODULES = ('scsi_common scsi_mod libata ata_piix crct10dif_common crct10dif_generic crc-t10dif crc64 '
                'crc64-rocksoft t10-pi sd_mod')
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def check(problems, cond, what):
    if not cond:
        problems.append(what)


def machine_argv(disk, initrd, hmp_path, qmp_path, extra=()):
    return [emulator(), '-m', '256', '-smp', '2', '-kernel', os.path.join(cache_dir(), 'guests', 'vmlinuz-686'),
            '-initrd', initrd, '-append', 'console=ttyS0', '-nographic',
            '-drive', 'file=%s,format=qcow2,if=ide,index=0' % disk,
            '-monitor', 'unix:%s,server,nowait' % hmp_path,
            '-qmp', 'unix:%s,server,nowait' % qmp_path] + list(extra)


def connect_hmp(path):
    deadline = time.monotonic() + 60 * time_scale()
    while True:
        try:
            return Hmp(path)
        except OSError:
            if time.monotonic() > deadline:
                raise GuestFailure('cannot connect to the HMP socket %s' % path)
            time.sleep(0.2)


def counter(c, tag):
    out = c.run('cat /tmp/cnt', 60, tag)
    m = re.search(r'^(\d+)\s*$', out, re.M)
    if not m:
        raise GuestFailure('the guest counter reads %r' % out.strip())
    return int(m.group(1))


def disk_block(c, tag):
    out = c.run('sync; echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/sda bs=512 skip=100 count=1 2>/dev/null '
                '| head -c 12; echo', 120, tag)
    m = re.search(r'DISK-[A-Z]+', out)
    return m.group(0) if m else out.strip()


def check_resumed(problems, c, what, saved_count):
    """The guest restored from the snapshot: marker A in RAM, counter from the saved value on."""
    c.send('\n')
    c.expect(r'pcvm:[^\n]*# ', 60 , 'the shell prompt after %s' % what)
    out = c.run('cat /tmp/m', 60, 'marker-' + what)
    check(problems, 'MARK-A' in out and 'MARK-B' not in out, '%s: /tmp/m reads %r, saved MARK-A' % (what, out.strip()))
    n1 = counter(c, 'cnt1-' + what)
    time.sleep(2.5)
    n2 = counter(c, 'cnt2-' + what)
    check(problems, n2 > n1, '%s: the guest counter does not tick (%d then %d)' % (what, n1, n2))
    if saved_count is not None:
        check(problems, saved_count <= n1 <= saved_count + 30,
              '%s: the counter restarted at %d, it was %d when saved' % (what, n1, saved_count))
    return n1


# The guest's disk writer: 16 sectors from 300 on, one rewritten per round with its round
# number (by turns O_DIRECT, and through the page cache then fsync), the same bytes kept in RAM
# (/tmp/img); every round it reads the 16 sectors back from the disk (O_DIRECT) and compares.
STRESS = ("rm -f /tmp/stop /tmp/stopped /tmp/bad /tmp/iter; dd if=/dev/sda of=/tmp/img bs=512 skip=300 count=16 iflag=direct 2>/dev/null; "
          "(i=0; while [ ! -e /tmp/stop ]; do i=$((i+1)); s=$((i%16)); "
          "printf 'STRESS-%08d-%02d' $i $s > /tmp/blk; "
          "if [ $((i%2)) = 0 ]; then dd if=/tmp/blk of=/dev/sda bs=512 seek=$((300+s)) conv=sync oflag=direct 2>/dev/null; "
          "else dd if=/tmp/blk of=/dev/sda bs=512 seek=$((300+s)) conv=sync,fsync 2>/dev/null; fi; "
          "dd if=/tmp/blk of=/tmp/img bs=512 seek=$s conv=sync,notrunc 2>/dev/null; "
          "dd if=/dev/sda bs=512 skip=300 count=16 iflag=direct 2>/dev/null | cmp -s - /tmp/img || echo BAD-$i >> /tmp/bad; "
          "echo $i > /tmp/iter; done; echo done > /tmp/stopped) >/dev/null 2>&1 &")


def disk_stress(problems, c, h):
    """savevm and loadvm, to the latest and to older snapshots, while the guest writes, syncs and
    reads back its disk: after each loadvm the disk and the guest's RAM copy of it must agree
    (a block lost, written twice or from the wrong moment shows as a mismatch)."""
    c.run(STRESS + ' sleep 1', 60, 'stress-start')
    plan = ['savevm st-a', 'savevm st-b', 'loadvm st-a', 'savevm st-c', 'loadvm st-b', 'loadvm st-c',
            'savevm st-a', 'loadvm st-a', 'savevm st-d', 'loadvm st-b', 'loadvm st-d']
    for op in plan:
        time.sleep(0.6)
        out = h.cmd(op)
        check(problems, out.strip() == '', 'disk stress: %s said %r' % (op, out))
    time.sleep(0.6)
    out = c.run('touch /tmp/stop; while [ ! -e /tmp/stopped ]; do sleep 0.2; done; '
                'dd if=/dev/sda bs=512 skip=300 count=16 iflag=direct 2>/dev/null | cmp -s - /tmp/img && echo SAME-DISK; '
                'echo iter=$(cat /tmp/iter) bad=$(cat /tmp/bad 2>/dev/null | head -3)', 120, 'stress-end')
    m = re.search(r'iter=(\d+) bad=(.*)', out)
    check(problems, m and 'SAME-DISK' in out and m.group(2).strip() == '',
          'disk stress: the guest found its disk differing from what it wrote: %r' % out.strip()[-300:])
    check(problems, m and int(m.group(1)) >= 2, 'disk stress: the guest writer made too few rounds: %r' % out.strip()[-300:])
    for name in ('st-a', 'st-b', 'st-c', 'st-d'):
        h.cmd('delvm ' + name)


def mapped_ram_survives(problems, c, h):
    """loadvm maps the saved RAM from the image's clusters copy-on-write: after `delvm` of that
    snapshot and a `savevm` that reuses its clusters, pages the guest had not touched since the
    loadvm must still hold what was saved (pcvm copies them before the clusters go)."""
    out = c.run('dd if=/dev/urandom of=/tmp/big bs=1024 count=8192 2>/dev/null; md5sum /tmp/big', 120, 'big-sum')
    m = re.search(r'^([0-9a-f]{32}) ', out, re.M)
    if not m:
        raise GuestFailure('md5sum /tmp/big: %r' % out.strip())
    for op in ('savevm st-x', 'loadvm st-x', 'delvm st-x', 'savevm st-y'):
        out = h.cmd(op)
        check(problems, out.strip() == '', 'mapped RAM: %s said %r' % (op, out))
    out = c.run('md5sum /tmp/big; rm /tmp/big', 120, 'big-sum-after')
    check(problems, m.group(1) in out, 'mapped RAM: /tmp/big changed after loadvm, delvm, savevm: %s, was %s'
          % (out.strip()[-60:], m.group(1)))
    h.cmd('delvm st-y')


def refusals(problems, work):
    """No guest needed: raw drive refusal and bad states, each one line."""
    raw = os.path.join(work, 'raw.img')
    with open(raw, 'wb') as f:
        f.truncate(1 << 20)
    hmp_path = os.path.join(work, 'hmp-raw.sock')
    p = subprocess.Popen([emulator(), '-S', '-nographic', '-nic', 'none', '-drive', 'file=%s,format=raw,if=ide' % raw,
                          '-monitor', 'unix:%s,server,nowait' % hmp_path, '-serial', 'null'],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        h = connect_hmp(hmp_path)
        out = h.cmd('savevm s1').strip()
        check(problems, out == "Error: Device 'ide0-hd0' is writable but does not support snapshots",
              'savevm with a writable raw drive said %r' % out)
        h.cmd('quit')
        h.close()
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def bad_states(problems, work, state_file, disk, initrd):
    """-incoming refuses a corrupt, truncated, foreign and newer state with one line and exit 1."""
    data = open(state_file, 'rb').read()
    cases = {
        'truncated': data[:len(data) // 3],
        'corrupt': data[:200] + bytes([data[200] ^ 0x55]) + data[201:],
        'foreign': b'QEVM\x00\x00\x00\x03' + b'\x00' * 4096,
        'newer': data[:8] + b'\x09\x00\x00\x00' + data[12:],
    }
    expect = {'truncated': r'truncated', 'corrupt': r'corrupt', 'foreign': r'QEMU', 'newer': r'newer pcvm'}
    for name, blob in cases.items():
        path = os.path.join(work, 'bad-%s.state' % name)
        with open(path, 'wb') as f:
            f.write(blob)
        argv = machine_argv(disk, initrd, os.path.join(work, 'h-%s.sock' % name), os.path.join(work, 'q-%s.sock' % name),
                            ['-incoming', 'file:%s' % path, '-serial', 'null'])
        argv.remove('-nographic')
        argv += ['-display', 'none']
        r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60 * time_scale())
        lines = r.stdout.strip().split('\n')
        check(problems, r.returncode == 1 and len(lines) == 1 and re.search(expect[name], lines[0]),
              '-incoming with a %s state: status %d, said %r' % (name, r.returncode, r.stdout.strip()[:300]))


def test(log_path, consoles):
    work = tempfile.mkdtemp(prefix='pcvm-snapshot-')
    problems = []
    try:
        refusals(problems, work)
        disk = os.path.join(work, 'disk.qcow2')
        r = subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', disk, '16M'],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            raise GuestFailure('qemu-img create failed: %s' % r.stdout)
        initrd = initramfs(DISK_MODULES)
        hmp_path, qmp_path = os.path.join(work, 'hmp.sock'), os.path.join(work, 'qmp.sock')
        c = Console(machine_argv(disk, initrd, hmp_path, qmp_path), log_path)
        consoles.append(c)
        q = Qmp(qmp_path)
        q.read()
        q.ok('qmp_capabilities')
        c.expect(r'BOOT-OK', 600, 'the initramfs marker BOOT-OK')
        c.expect(r'pcvm:[^\n]*# ', 120, 'the shell prompt')
        out = c.run('n=0; while [ ! -b /dev/sda ] && [ $n -lt 300 ]; do sleep 0.2; n=$((n+1)); done; ls -l /dev/sda',
                    120, 'sda')
        if not re.search(r'^b', out, re.M):
            raise GuestFailure('the guest has no /dev/sda block device: %r' % out.strip())
        c.run('echo MARK-A > /tmp/m; echo DISK-A | dd of=/dev/sda bs=512 seek=100 conv=fsync 2>/dev/null; sync; '
              '(i=0; while true; do i=$((i+1)); echo $i > /tmp/cnt.new; mv /tmp/cnt.new /tmp/cnt; sleep 1; done) & sleep 2', 120, 'setup')
        h = connect_hmp(hmp_path)
        saved = counter(c, 'cnt-save')
        out = h.cmd('savevm snap1')
        check(problems, out.strip() == '', 'savevm snap1 said %r' % out)
        out = h.cmd('info snapshots')
        m = re.search(r'^--\s+snap1\s+(\d[\d.]* [KMG]iB)\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\d\d:\d\d:\d\d\.\d{3}',
                      out, re.M)
        check(problems, out.startswith('List of snapshots present on all disks:') and m,
              'info snapshots: %r' % out)
        # change RAM and disk
        c.run('echo MARK-B > /tmp/m; echo DISK-B | dd of=/dev/sda bs=512 seek=100 conv=fsync 2>/dev/null; sync',
              120, 'change')
        check(problems, disk_block(c, 'blk-b') == 'DISK-B', 'the guest did not write DISK-B')
        time.sleep(2)
        before = counter(c, 'cnt-before')
        out = h.cmd('loadvm snap1')
        check(problems, out.strip() == '', 'loadvm snap1 said %r' % out)
        n1 = check_resumed(problems, c, 'loadvm', saved)
        check(problems, n1 < before, 'after loadvm the counter reads %d, before loadvm %d' % (n1, before))
        blk = disk_block(c, 'blk-a')
        check(problems, blk == 'DISK-A', 'after loadvm the disk block reads %r, saved DISK-A' % blk)
        st = q.ok('query-status')
        check(problems, st.get('status') == 'running', 'query-status after loadvm: %r' % st)

        # QMP jobs
        q.events.clear()
        q.ok('snapshot-save', {'job-id': 'save0', 'tag': 'snap2', 'vmstate': 'ide0-hd0', 'devices': ['ide0-hd0']})
        seen = []
        while 'concluded' not in seen:
            ev = q.wait_event('JOB_STATUS_CHANGE', 120)
            seen.append(ev['data']['status'])
        check(problems, seen == ['created', 'running', 'waiting', 'pending', 'concluded'],
              'snapshot-save job statuses %r' % seen)
        jobs = q.ok('query-jobs')
        check(problems, jobs == [{'id': 'save0', 'type': 'snapshot-save', 'status': 'concluded',
                                  'current-progress': 1, 'total-progress': 1}], 'query-jobs: %r' % jobs)
        q.ok('job-dismiss', {'id': 'save0'})
        check(problems, q.ok('query-jobs') == [], 'query-jobs after job-dismiss is not empty')
        q.ok('snapshot-save', {'job-id': 'save1', 'tag': 'snap2', 'vmstate': 'ide0-hd0', 'devices': ['ide0-hd0']})
        while q.wait_event('JOB_STATUS_CHANGE', 120)['data']['status'] != 'concluded':
            pass
        jobs = q.ok('query-jobs')
        check(problems, len(jobs) == 1 and 'already exists' in jobs[0].get('error', ''),
              'a second snapshot-save of snap2 gave %r' % jobs)
        q.ok('job-dismiss', {'id': 'save1'})
        for verb in ('snapshot-load', 'snapshot-delete'):
            args = {'job-id': 'j-' + verb, 'tag': 'snap2', 'devices': ['ide0-hd0']}
            if verb == 'snapshot-load':
                args['vmstate'] = 'ide0-hd0'
            q.ok(verb, args)
            while q.wait_event('JOB_STATUS_CHANGE', 120)['data']['status'] != 'concluded':
                pass
            jobs = q.ok('query-jobs')
            check(problems, len(jobs) == 1 and 'error' not in jobs[0], '%s job: %r' % (verb, jobs))
            q.ok('job-dismiss', {'id': 'j-' + verb})
        check_resumed(problems, c, 'snapshot-load', None)
        out = h.cmd('info snapshots')
        check(problems, 'snap1' in out and 'snap2' not in out, 'info snapshots after snapshot-delete: %r' % out)

        disk_stress(problems, c, h)
        mapped_ram_survives(problems, c, h)

        # migration to a stream and to a file
        stream, image = os.path.join(work, 'm.stream'), os.path.join(work, 'm.state')
        out = h.cmd('migrate "exec:cat > %s"' % stream)
        check(problems, out.strip() == '', 'migrate exec: said %r' % out)
        out = h.cmd('info status').strip()
        check(problems, out == 'VM status: paused (postmigrate)', 'after migrate: %r' % out)
        out = h.cmd('migrate file:%s' % image)
        check(problems, out.strip() == '', 'migrate file: said %r' % out)
        out = h.cmd('info migrate')
        check(problems, 'Migration status: completed' in out, 'info migrate: %r' % out)
        h.cmd('cont')
        check_resumed(problems, c, 'migrate', None)
        h.cmd('quit')
        h.close()
        status = c.wait_exit(60)
        check(problems, status == 0, 'quit ended pcvm with status %d' % status)

        r = subprocess.run(['qemu-img', 'snapshot', '-l', disk], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
        check(problems, r.returncode == 0 and re.search(r'^\S+\s+snap1\s+\d[\d.]* [KMG]iB ', r.stdout, re.M),
              'qemu-img snapshot -l: %r' % r.stdout)
        r = subprocess.run(['qemu-img', 'check', disk], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        check(problems, r.returncode == 0 and 'No errors were found' in r.stdout, 'qemu-img check: %r' % r.stdout)

        # fresh machines from the saved states
        for what, extra in (('-loadvm', ['-loadvm', 'snap1']), ('-incoming file', ['-incoming', 'file:%s' % image]),
                            ('-incoming exec', ['-incoming', 'exec:cat %s' % stream])):
            c2 = Console(machine_argv(disk, initrd, os.path.join(work, 'h2.sock'), os.path.join(work, 'q2.sock'),
                                      extra), log_path + '.' + what.split()[-1].strip('-'))
            consoles.append(c2)
            check_resumed(problems, c2, what, None)
            c2.send('poweroff -f\n')
            status = c2.wait_exit(120)
            check(problems, status == 0, '%s machine: poweroff gave status %d' % (what, status))
        bad_states(problems, work, image, disk, initrd)
        if problems:
            raise GuestFailure('; '.join(problems))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == '__main__':
    main(test)
