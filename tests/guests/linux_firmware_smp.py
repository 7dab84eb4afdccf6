#!/usr/bin/env python3
"""linux_firmware.py at -smp 2 (SeaBIOS + GRUB from an MBR disk, two CPUs).  Both are in the
default list.  They used to hang or panic in about half the boots on a loaded host (an RCU
stall "timer wakeup didn't happen", "IO-APIC + timer doesn't work"): host stalls made guest
time jump over PIT and APIC ticks, so Linux's calibrations and timer checks went wrong; the run
loop now limits the virtual clock per slice (issue 13, docs/ARCHITECTURE.md "Host stalls")."""
import os

os.environ['PCVM_FIRMWARE_SMP'] = '2'

from console import main  # noqa: E402
from linux_firmware import test  # noqa: E402

if __name__ == '__main__':
    main(test)
