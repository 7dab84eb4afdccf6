/* Linux boot protocol (2.02 and later): bzImage, initrd and command line, 32-bit entry. */
#ifndef PCVM_BOOT_LINUX_H
#define PCVM_BOOT_LINUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"

/* Offsets in the zero page (struct boot_params) and the setup header inside it. */
enum {
    BP_EXT_MEM_K = 0x002, BP_VIDEO_MODE = 0x006, BP_VIDEO_COLS = 0x007, BP_VIDEO_EGA_BX = 0x00a,
    BP_VIDEO_LINES = 0x00e, BP_VIDEO_ISVGA = 0x00f, BP_VIDEO_POINTS = 0x010,
    BP_ALT_MEM_K = 0x1e0, BP_E820_ENTRIES = 0x1e8, BP_SENTINEL = 0x1ef, BP_E820_TABLE = 0x2d0,
    BP_E820_MAX = 128,
    HDR_START = 0x1f1, HDR_SETUP_SECTS = 0x1f1, HDR_SYSSIZE = 0x1f4, HDR_VID_MODE = 0x1fa,
    HDR_BOOT_FLAG = 0x1fe, HDR_JUMP = 0x200, HDR_MAGIC = 0x202, HDR_VERSION = 0x206,
    HDR_TYPE_OF_LOADER = 0x210, HDR_LOADFLAGS = 0x211, HDR_CODE32_START = 0x214,
    HDR_RAMDISK_IMAGE = 0x218, HDR_RAMDISK_SIZE = 0x21c, HDR_HEAP_END_PTR = 0x224,
    HDR_CMD_LINE_PTR = 0x228, HDR_INITRD_ADDR_MAX = 0x22c, HDR_KERNEL_ALIGNMENT = 0x230,
    HDR_RELOCATABLE = 0x234, HDR_CMDLINE_SIZE = 0x238, HDR_HARDWARE_SUBARCH = 0x23c,
    HDR_SETUP_DATA = 0x250, HDR_PREF_ADDRESS = 0x258, HDR_INIT_SIZE = 0x260,
    HDR_MAX_END = 0x290,  /* the zero page's fields after the header start here */
    LOADFLAG_LOADED_HIGH = 0x01, LOADFLAG_CAN_USE_HEAP = 0x80,
    LINUX_LOADER_TYPE = 0xb0,
    LINUX_LOAD_ADDR = 0x100000,
};

/* True when the image carries a Linux setup header ("HdrS" at 0x202). */
bool linux_probe(const uint8_t *img, size_t size);
/* Load a bzImage (+ req->initrd file, req->cmdline) and set the 32-bit boot protocol entry state
 * (flat CS=0x10, DS=ES=SS=0x18, ESI = zero page, EBX=EBP=EDI=0, IF=0).  0, or -1 with err. */
int linux_load(const struct boot_request *req, const uint8_t *img, size_t size,
               struct phys_mem *pm, struct boot_entry_state *out, char *err, size_t errlen);

#endif
