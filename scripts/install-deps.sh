#!/usr/bin/env bash
# Install everything pcvm needs to build, run and test, from Debian's packages.
# Idempotent and quiet when all is there already.
set -euo pipefail
PKGS=(build-essential gcc clang pkg-config nasm gcc-multilib cpio python3
      libslirp-dev zlib1g-dev libzstd-dev libjansson-dev libcmocka-dev libcapstone-dev libseccomp-dev
      seabios qemu-utils e2fsprogs expect acpica-tools
      grub-pc-bin grub-common xorriso mtools gdb socat
      librsvg2-bin parallel ipxe-qemu curl tcpdump iproute2 qemu-system-x86
      libvncserver-dev libsdl2-dev libpng-dev libnet-vnc-perl libimage-imlib2-perl tesseract-ocr
      tesseract-ocr-eng xvfb imagemagick libxkbcommon-dev xkb-data xdotool strace)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# i386 is needed to fetch the Debian guests (apt-get download linux-image-686:i386 ...).
need_i386=0
dpkg --print-foreign-architectures | grep -qx i386 || need_i386=1
if [ ${#missing[@]} -eq 0 ] && [ $need_i386 -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]:-(i386 architecture)}" >&2
[ $need_i386 -eq 1 ] && $SUDO dpkg --add-architecture i386
# A mirror mid-sync can fail one index; the rest still updates, so do not stop on it.
$SUDO apt-get update -qq >/dev/null 2>&1 || echo "install-deps: apt-get update reported errors; continuing" >&2
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
