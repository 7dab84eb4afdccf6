/* libFuzzer target: random bytes as a -kernel file (Multiboot, bzImage, ELF detection and
 * loading) and as a -initrd module list.  Build:
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -Isrc -fsanitize=fuzzer,address,undefined \
 *         tests/fuzz/fuzz_boot.c src/boot/boot.c src/boot/elf.c src/boot/linux.c \
 *         src/boot/multiboot.c src/mem/memory.c -o build/fuzz_boot */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/boot.h"
#include "boot/multiboot.h"
#include "mem/memory.h"

#define FUZZ_RAM (32u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char module[64] = "/tmp/pcvm-fuzz-module-XXXXXX";

static void remove_module(void)
{
    unlink(module);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* One guest RAM for the whole run: allocating 32 MiB per input would dominate. */
    static struct phys_mem pm;
    static int ready;
    static char initrd[160];
    if (!ready) {
        if (phys_mem_init(&pm, FUZZ_RAM, FUZZ_RAM) != 0)
            abort();
        /* A small file used as a Multiboot module or Linux initrd on some inputs. */
        int fd = mkstemp(module);
        if (fd < 0 || write(fd, "module", 6) != 6)
            abort();
        close(fd);
        atexit(remove_module);
        snprintf(initrd, sizeof(initrd), "%s a b,%s c,,d", module, module);
        ready = 1;
    }
    struct e820_entry e820[16];
    struct boot_request req = {
        .kernel_path = "fuzz-kernel",
        .cmdline = "console=ttyS0",
        .ram_below_4g = FUZZ_RAM,
        .e820 = e820,
    };
    /* The first byte picks a memory layout, so ACPI holes and small RAM get exercised. */
    uint32_t ram = size && (data[0] & 1) ? FUZZ_RAM / 2 : FUZZ_RAM;
    req.ram_below_4g = ram;
    req.e820_count = boot_build_e820(ram, size && (data[0] & 2) ? ram - 0x20000 : 0,
                                     size && (data[0] & 2) ? 0x20000 : 0, e820, 16);
    if (size && (data[0] & 4))
        req.initrd = (data[0] & 8) ? initrd : module;
    struct boot_entry_state st;
    char err[256];
    boot_load_image(&req, data, size, &pm, &st, err, sizeof(err));

    /* The module list parser on the same bytes as a string. */
    char *list = malloc(size + 1);
    if (!list)
        return 0;
    memcpy(list, data, size);
    list[size] = '\0';
    char buf[512];
    const char *mods[MB_MAX_MODULES];
    multiboot_split_modules(list, buf, sizeof(buf), mods, MB_MAX_MODULES);
    free(list);
    return 0;
}
