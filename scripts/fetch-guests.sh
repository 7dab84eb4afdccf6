#!/usr/bin/env bash
# Fetch the Debian guests pcvm is tested with into a cache outside git and give each a stable
# name under $CACHE/guests/.  Idempotent and quiet when everything is cached.
#   scripts/fetch-guests.sh [linux|busybox|gnumach|memtest|installer|attr|all]...
# Files produced (CACHE=${PCVM_CACHE:-$HOME/.cache/pcvm}):
#   guests/vmlinuz-686        Linux 686 bzImage         guests/busybox       static i386 busybox
#   guests/gnumach            GNU Mach 1.8 (Multiboot)  guests/memtest.bin   memtest86+ ia32 (bzImage)
#   guests/di-linux, guests/di-initrd.gz               Debian installer netboot (i386)
#   guests/attr/              Debian's i386 getfattr/setfattr with their loader and libraries
set -euo pipefail
CACHE=${PCVM_CACHE:-$HOME/.cache/pcvm}
G=$CACHE/guests
mkdir -p "$CACHE/debs" "$CACHE/root" "$G"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

say() { echo "fetch-guests: $*" >&2; }

apt_ready=0
# Make sure i386 is known and the package lists are there; only touches apt when needed.
ensure_apt() {
  [ $apt_ready -eq 1 ] && return 0
  if ! dpkg --print-foreign-architectures | grep -qx i386; then
    say "adding the i386 architecture"
    $SUDO dpkg --add-architecture i386
    $SUDO apt-get update -qq >/dev/null 2>&1 || say "apt-get update reported errors; continuing"
  elif ! apt-cache show busybox-static:i386 >/dev/null 2>&1; then
    $SUDO apt-get update -qq >/dev/null 2>&1 || say "apt-get update reported errors; continuing"
  fi
  apt_ready=1
}

# Download one package (name[:arch]) into debs/ and extract it under root/<tag>; prints the dir.
fetch_pkg() {
  local pkg=$1 dir=$CACHE/root/$2
  if [ -f "$dir/.done" ]; then echo "$dir"; return 0; fi
  ensure_apt
  say "downloading $pkg"
  local tmp; tmp=$(mktemp -d "$CACHE/debs/dl.XXXXXX")
  if ! (cd "$tmp" && apt-get download -qq "$pkg" >/dev/null 2>&1); then
    # A stale list may name a version the mirror dropped: refresh once and retry.
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    (cd "$tmp" && apt-get download -qq "$pkg" >/dev/null) || { rm -rf "$tmp"; say "cannot download $pkg"; return 1; }
  fi
  local deb; deb=$(ls "$tmp"/*.deb | head -1)
  mv "$deb" "$CACHE/debs/"; rm -rf "$tmp"
  rm -rf "$dir"; mkdir -p "$dir"
  dpkg-deb -x "$CACHE/debs/$(basename "$deb")" "$dir"
  touch "$dir/.done"
  echo "$dir"
}

# The versioned package linux-image-686 depends on (linux-image-6.1.0-NN-686).
linux_pkg() {
  ensure_apt
  local p
  p=$(apt-cache depends linux-image-686:i386 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[0-9][^ :]*-686\).*/\1/p' | head -1)
  [ -n "$p" ] || { say "cannot resolve linux-image-686:i386 (apt-get update?)"; return 1; }
  echo "$p:i386"
}

get_linux() {
  [ -f "$G/vmlinuz-686" ] && return 0
  local d; d=$(fetch_pkg "$(linux_pkg)" linux)
  cp "$(ls "$d"/boot/vmlinuz-* | head -1)" "$G/vmlinuz-686"
}
get_busybox() {
  [ -f "$G/busybox" ] && return 0
  local d; d=$(fetch_pkg busybox-static:i386 busybox)
  cp "$d/bin/busybox" "$G/busybox"
}
get_gnumach() {
  [ -f "$G/gnumach" ] && return 0
  local d; d=$(fetch_pkg gnumach-image-1.8-486:i386 gnumach)
  local img; img=$(ls "$d"/boot/gnumach* | head -1)
  # Shipped gzipped; Multiboot loaders want the plain ELF.
  case $img in *.gz) gzip -dc "$img" > "$G/gnumach.tmp" ;; *) cp "$img" "$G/gnumach.tmp" ;; esac
  mv "$G/gnumach.tmp" "$G/gnumach"
}
get_memtest() {
  [ -f "$G/memtest.bin" ] && return 0
  local d; d=$(fetch_pkg memtest86+ memtest)
  local img; img=$(ls "$d"/boot/memtest86+ia32.bin 2>/dev/null || ls "$d"/boot/memtest86+*32*.bin | head -1)
  cp "$img" "$G/memtest.bin"
}
get_installer() {
  [ -f "$G/di-linux" ] && [ -f "$G/di-initrd.gz" ] && return 0
  local d; d=$(fetch_pkg debian-installer-12-netboot-i386 installer)
  local k; k=$(find "$d" -path '*i386/text/*' -name linux | head -1)
  [ -n "$k" ] || k=$(find "$d" -name linux -path '*i386*' | head -1)
  [ -n "$k" ] || { say "no installer kernel in the package"; return 1; }
  cp "$k" "$G/di-linux"
  cp "$(dirname "$k")/initrd.gz" "$G/di-initrd.gz"
}
# getfattr and setfattr (package attr) for the virtio-9p xattr checks; the guest runs them
# through the dynamic loader from a 9p share: guests/attr/{getfattr,setfattr,ld-linux.so.2,...}.
get_attr() {
  [ -f "$G/attr/.done" ] && return 0
  local a l c; a=$(fetch_pkg attr:i386 attr); l=$(fetch_pkg libattr1:i386 libattr1); c=$(fetch_pkg libc6:i386 libc6)
  rm -rf "$G/attr"; mkdir -p "$G/attr"
  cp "$a/usr/bin/getfattr" "$a/usr/bin/setfattr" "$G/attr/"
  cp -L "$(find "$l" -name 'libattr.so.1*' | head -1)" "$G/attr/libattr.so.1"
  cp -L "$(find "$c" -name 'ld-linux.so.2' | head -1)" "$G/attr/ld-linux.so.2"
  cp -L "$(find "$c" -name 'libc.so.6' | head -1)" "$G/attr/libc.so.6"
  touch "$G/attr/.done"
}

[ $# -gt 0 ] || set -- all
for what in "$@"; do
  case $what in
    linux) get_linux ;;
    busybox) get_busybox ;;
    gnumach) get_gnumach ;;
    memtest) get_memtest ;;
    installer) get_installer ;;
    attr) get_attr ;;
    all) get_linux; get_busybox; get_gnumach; get_memtest; get_installer; get_attr ;;
    *) say "unknown guest '$what' (linux busybox gnumach memtest installer attr all)"; exit 2 ;;
  esac
done
