#!/bin/bash
# IDE/ATAPI and the block layer under real guests:
#  1. SeaBIOS boots an MBR from a qcow2 disk; the boot sector reads sector 1 with INT 13h.
#  2. SeaBIOS boots a CD made with grub-mkrescue (El Torito) into GRUB.
#  3. Linux (Debian 686 kernel from the guest cache), booted through the firmware: SeaBIOS
#     boots a grub-mkrescue CD holding the kernel, the initramfs and a data file, GRUB loads
#     Linux. ata_piix finds the disk and the CD-ROM, the CD reads back bit-exactly, an ext2 file
#     system on a qcow2 disk is written in the guest, and after power-off the host reads the
#     files back (debugfs) and `qemu-img check` finds the image clean. ACPI after SeaBIOS moved
#     the PIIX4 PM block (issue 13): acpi_pm is an available clocksource, the log has no "ACPI
#     Error" or "PM-Timer failed" line, and `poweroff -f` (S5) exits with status 0.
# Usage: tests/block/guest_ide.sh [pcvm] [pcvm-img]   (defaults ./pcvm ./pcvm-img)
# Scenario 3 needs the guest cache (scripts/fetch-guests.sh linux busybox); it takes minutes.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PCVM=${1:-${PCVM:-./pcvm}}
PIMG=${2:-${PCVM_IMG:-./pcvm-img}}
PCVM=$(cd "$(dirname "$PCVM")" && pwd)/$(basename "$PCVM")
PIMG=$(cd "$(dirname "$PIMG")" && pwd)/$(basename "$PIMG")
CACHE=${PCVM_CACHE:-$HOME/.cache/pcvm}
pass=0
fail=0
T=$(mktemp -d "${TMPDIR:-/var/tmp}/pcvm-guest-ide.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; [ -f "${2:-}" ] && tail -20 "$2" | sed 's/^/    /'; }

# 1. MBR boot from qcow2: prints "MBR-BOOT-OK", reads LBA 1 by INT 13h AH=42h, prints it,
#    then leaves through isa-debug-exit.
python3 - <<'EOF'
code = bytes.fromhex(
    "31c08ed8be367cbaf803ac84c07403eeebf8b442b280be437ccd13720ebe0080baf803ac84c07406eeebf8b021ee"
    "ba0105b000eefaf44d42522d424f4f542d4f4b2000100001000080000001")
mbr = code + bytes(510 - len(code)) + b"\x55\xaa"
with open("mbr.raw", "wb") as f:
    f.write(mbr + b"SECTOR1-READ-OK\n\0")
    f.truncate(16 << 20)
EOF
if "$PIMG" convert -f raw -O qcow2 mbr.raw mbr.qcow2 >/dev/null 2>&1 &&
    timeout 120 "$PCVM" -m 64 -nographic -no-reboot -drive file=mbr.qcow2,format=qcow2 \
        -device isa-debug-exit,iobase=0x501,iosize=2 >mbr.log 2>&1 </dev/null;
    grep -aq "MBR-BOOT-OK SECTOR1-READ-OK" mbr.log; then
    ok "SeaBIOS boots an MBR from a qcow2 disk (INT 13h reads)"
else
    ko "SeaBIOS boots an MBR from a qcow2 disk (INT 13h reads)" mbr.log
fi

# 2. El Torito: SeaBIOS boots a grub-mkrescue CD; GRUB loads the project's Multiboot test
#    kernel from it, which prints its banner and leaves through isa-debug-exit (status 0x21).
if command -v grub-mkrescue >/dev/null && command -v xorriso >/dev/null &&
    bash "$ROOT/tests/kernels/build.sh" "$T/kernels" >/dev/null 2>&1; then
    mkdir -p cd/boot/grub
    cp "$T/kernels/mb_elf.elf" cd/boot/kernel.elf
    printf '%s\n' 'serial --unit=0 --speed=115200' 'terminal_input serial' 'terminal_output serial' \
        'set timeout=0' 'echo PCVM-CD-BOOT-OK' 'multiboot /boot/kernel.elf mb-cmdline' 'boot' >cd/boot/grub/grub.cfg
    status=0
    grub-mkrescue -o grub.iso cd >/dev/null 2>&1 &&
        { timeout 240 "$PCVM" -m 128 -nographic -no-reboot -cdrom grub.iso -boot d \
            -device isa-debug-exit,iobase=0xf4,iosize=0x04 >cd.log 2>&1 </dev/null; status=$?; }
    if grep -aq "PCVM-CD-BOOT-OK" cd.log && grep -aq "pcvm-test-kernel: ELF" cd.log && [ "$status" = 67 ]; then
        ok "SeaBIOS boots a grub-mkrescue CD (El Torito over ATAPI) into a Multiboot kernel"
    else
        echo "exit status $status (want 67)" >>cd.log
        ko "SeaBIOS boots a grub-mkrescue CD (El Torito over ATAPI) into a Multiboot kernel" cd.log
    fi
else
    ko "SeaBIOS boots a grub-mkrescue CD: grub-mkrescue/xorriso missing or test kernels do not build" /dev/null
fi

# 3. Linux guest with modules from the cached Debian kernel package.
KERNEL=$CACHE/guests/vmlinuz-686
BUSYBOX=$CACHE/guests/busybox
MODDIR=$(ls -d "$CACHE"/root/linux/lib/modules/* 2>/dev/null | head -1)
if [ ! -f "$KERNEL" ] || [ ! -f "$BUSYBOX" ] || [ -z "$MODDIR" ] || ! command -v debugfs >/dev/null; then
    echo "SKIP Linux ata_piix test (no guest cache: scripts/fetch-guests.sh linux busybox; or no e2fsprogs)"
else
    mkdir -p root/bin root/mods root/dev root/proc root/sys root/mnt
    cp "$BUSYBOX" root/bin/busybox
    # Modules for ata_piix, sd, sr and ext4 (which mounts ext2), in dependency order.
    python3 - "$MODDIR" <<'EOF'
import os, re, shutil, sys
moddir = sys.argv[1]
idx = {}
for d, _, fs in os.walk(moddir):
    for f in fs:
        if f.endswith(".ko"):
            idx[f[:-3].replace("-", "_")] = os.path.join(d, f)
order, seen = [], set()
def add(m):
    m = m.replace("-", "_")
    if m in seen or m not in idx:
        return
    seen.add(m)
    data = open(idx[m], "rb").read()
    dep = re.search(rb"depends=([^\0]*)\0", data)
    for x in (dep.group(1).split(b",") if dep else []):
        if x:
            add(x.decode())
    order.append(m)
for m in ["crc32c_generic", "ata_piix", "sd_mod", "sr_mod", "ext4"]:
    add(m)
for m in order:
    shutil.copy(idx[m], "root/mods/%s.ko" % m)
open("root/order", "w").write("\n".join(order) + "\n")
EOF
    cat >root/init <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /order); do insmod /mods/$m.ko; done
sleep 2
echo "CDMD5 $(md5sum /dev/sr0 | cut -d' ' -f1)"
mount -t ext4 /dev/sda /mnt && echo "MOUNTED"
echo "HOSTFILE $(cat /mnt/host.txt)"
echo "hello from the guest" >/mnt/hello.txt
dd if=/dev/urandom of=/mnt/big bs=4k count=1024 2>/dev/null
md5sum /mnt/big | cut -d' ' -f1 >/mnt/big.md5
sync
umount /mnt && echo "UNMOUNTED"
echo "XFER $(cat /sys/class/ata_device/dev1.0/xfer_mode 2>/dev/null)"
echo "CLOCKSOURCES $(cat /sys/devices/system/clocksource/clocksource0/available_clocksource)"
dmesg | grep -E "ACPI (BIOS )?Error|PM-Timer failed" | sed 's/^/DMESG-PROBLEM /'
poweroff -f
EOF
    chmod +x root/init
    (cd root && find . | cpio -o -H newc 2>/dev/null | gzip >../initrd.gz)
    truncate -s 64M disk.raw && mkfs.ext2 -q disk.raw && echo "written by the host" >host.txt &&
        debugfs -w -R "write host.txt host.txt" disk.raw >/dev/null 2>&1
    "$PIMG" convert -f raw -O qcow2 disk.raw disk.qcow2 >/dev/null 2>&1
    # The boot CD: GRUB, the kernel and the initramfs, and 3 MB of random data.
    mkdir -p isod/boot/grub && head -c 3000000 /dev/urandom >isod/data.bin
    cp "$KERNEL" isod/boot/vmlinuz && cp initrd.gz isod/boot/initrd.gz
    printf '%s\n' 'serial --unit=0 --speed=115200' 'terminal_input serial' 'terminal_output serial' \
        'set timeout=0' 'linux /boot/vmlinuz console=ttyS0 quiet' 'initrd /boot/initrd.gz' 'boot' >isod/boot/grub/grub.cfg
    grub-mkrescue -o data.iso isod >/dev/null 2>&1
    status=0
    timeout 900 "$PCVM" -m 256 -nographic -no-reboot -boot d \
        -drive file=disk.qcow2,format=qcow2,if=ide,index=0 \
        -drive file=data.iso,format=raw,media=cdrom,if=ide,index=2 >linux.log 2>&1 </dev/null || status=$?
    tr -d '\r' <linux.log >linux.txt
    if grep -q "CDMD5 $(md5sum <data.iso | cut -d' ' -f1)" linux.txt; then
        ok "Linux sr0 reads the ISO bit-exactly"
    else
        ko "Linux sr0 reads the ISO bit-exactly" linux.txt
    fi
    if grep -q "^MOUNTED" linux.txt && grep -q "HOSTFILE written by the host" linux.txt &&
        grep -q "^UNMOUNTED" linux.txt; then
        ok "Linux mounts the qcow2 ext2 disk through ata_piix"
    else
        ko "Linux mounts the qcow2 ext2 disk through ata_piix" linux.txt
    fi
    "$PIMG" convert -O raw disk.qcow2 out.raw >/dev/null 2>&1
    debugfs -R "dump /big big.out" out.raw >/dev/null 2>&1
    if qemu-img check -q disk.qcow2 && [ "$(debugfs -R 'cat /hello.txt' out.raw 2>/dev/null)" = "hello from the guest" ] &&
        [ "$(debugfs -R 'cat /big.md5' out.raw 2>/dev/null)" = "$(md5sum <big.out | cut -d' ' -f1)" ]; then
        ok "files written by the guest read back on the host; qemu-img check clean"
    else
        ko "files written by the guest read back on the host; qemu-img check clean" linux.txt
    fi
    if grep -q "reboot: Power down" linux.txt && [ "$status" = 0 ] && grep -q "^CLOCKSOURCES.*acpi_pm" linux.txt &&
        ! grep -qE "ACPI (BIOS )?Error|PM-Timer failed" linux.txt; then
        ok "Linux booted by SeaBIOS from a GRUB CD: ACPI PM timer, no ACPI errors, poweroff exits 0"
    else
        echo "exit status $status (want 0)" >>linux.txt
        ko "Linux booted by SeaBIOS from a GRUB CD: ACPI PM timer, no ACPI errors, poweroff exits 0" linux.txt
    fi
fi

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
