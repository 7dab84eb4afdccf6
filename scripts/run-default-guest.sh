#!/usr/bin/env bash
# `make run`: boot Debian's 686 Linux kernel with a busybox initramfs on the terminal.
# Extra arguments go to pcvm (e.g. `scripts/run-default-guest.sh -cpu 486 -smp 1`).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
CACHE=${PCVM_CACHE:-$HOME/.cache/pcvm}
bash "$here/fetch-guests.sh" linux busybox
bash "$here/make-initramfs.sh"
PCVM=${PCVM:-$root/pcvm}
[ -x "$PCVM" ] || { echo "run-default-guest: $PCVM is not built (run make)" >&2; exit 1; }
echo "pcvm: booting Linux with a busybox shell on this terminal. The kernel first unpacks itself" >&2
echo "      without a word (10-40 s, longer on a busy machine), then its boot log scrolls by and the" >&2
echo "      shell prompt (pcvm:/#) follows. Leave with Ctrl-A x (Ctrl-A h: help)." >&2
# The kernel log is shown as it boots (no "quiet"), so the wait is visible. cryptomgr.notests=1
# skips the kernel's crypto self-tests, which otherwise take more than half of the boot's CPU
# time under the interpreter (28 s -> 12 s of user time, measured on the 2-core test machine).
exec "$PCVM" -m 256 -kernel "$CACHE/guests/vmlinuz-686" -initrd "$CACHE/initramfs.cpio.gz" \
  -append "console=ttyS0 cryptomgr.notests=1" -nographic "$@"
