/* libFuzzer target: the command line parser.  The input is split at NUL bytes into argv
 * (argv[0] = "pcvm"), parsed with vm_config_parse(), dumped and freed.  Checked on every input:
 * the result is one of the four documented codes; an error leaves one non-empty line in err
 * (a newline only when an argument has one); a second parse of the same argv gives the same result and the same dump (no hidden
 * state); vm_config_free() leaves the config zeroed.
 * Sources: src/cli/options.c src/cli/kvlist.c src/cli/dump.c src/chardev/chardev_spec.c src/cpu/models.c
 *          src/ui/keymap.c src/ui/keymap_xkb.c src/ui/dynlib.c src/ui/vnc_spec.c
 *          src/boot/boot.c src/boot/elf.c src/boot/linux.c src/boot/multiboot.c
 *          src/mem/memory.c src/util/log.c -lxkbcommon */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/config.h"

#define FUZZ_MAX_ARGS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse argv, returning the result code; *dump gets vm_config_dump()'s text (caller frees). */
static int parse_and_dump(int argc, char **argv, char *err, size_t errlen, char **dump)
{
    struct vm_config cfg;
    memset(&cfg, 0, sizeof(cfg));
    int rc = vm_config_parse(&cfg, argc, argv, err, errlen);
    size_t dump_len = 0;
    *dump = NULL;
    FILE *mem = open_memstream(dump, &dump_len);
    if (!mem)
        abort();
    if (rc == VM_PARSE_OK || rc == VM_PARSE_EXIT)
        vm_config_dump(&cfg, mem);
    fclose(mem);
    vm_config_free(&cfg);
    static const struct vm_config zero;
    if (memcmp(&cfg, &zero, sizeof(cfg)) != 0) {
        fprintf(stderr, "vm_config_free() left the config non-zero\n");
        abort();
    }
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    /* One NUL-terminated copy of the input; argv points into it. */
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *argv[FUZZ_MAX_ARGS + 2];
    int argc = 0;
    argv[argc++] = (char *)"pcvm";
    for (size_t i = 0; i <= size && argc < FUZZ_MAX_ARGS + 1;) {
        argv[argc++] = text + i;
        i += strlen(text + i) + 1;
    }
    argv[argc] = NULL;

    char err1[256], err2[256];
    memset(err1, 'X', sizeof(err1));
    char *dump1, *dump2;
    int rc1 = parse_and_dump(argc, argv, err1, sizeof(err1), &dump1);
    if (rc1 != VM_PARSE_OK && rc1 != VM_PARSE_EXIT && rc1 != VM_PARSE_ERROR &&
        rc1 != VM_PARSE_UNSUPPORTED) {
        fprintf(stderr, "vm_config_parse returned %d\n", rc1);
        abort();
    }
    if (rc1 == VM_PARSE_ERROR || rc1 == VM_PARSE_UNSUPPORTED) {
        /* A newline in err can only come from an argument it quotes. */
        if (!memchr(err1, '\0', sizeof(err1)) || err1[0] == '\0' ||
            (strchr(err1, '\n') && !memchr(data, '\n', size))) {
            fprintf(stderr, "error %d without exactly one line in err\n", rc1);
            abort();
        }
    }
    /* The parser must not have changed argv's strings (it has no side effects). */
    size_t off = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i] != text + off) {
            fprintf(stderr, "argv[%d] moved\n", i);
            abort();
        }
        off += strlen(argv[i]) + 1;
    }
    if (off < size + 1 && argc < FUZZ_MAX_ARGS + 1) {
        fprintf(stderr, "argv strings were modified by the parser\n");
        abort();
    }
    int rc2 = parse_and_dump(argc, argv, err2, sizeof(err2), &dump2);
    if (rc1 != rc2 || strcmp(dump1, dump2) != 0 ||
        ((rc1 == VM_PARSE_ERROR || rc1 == VM_PARSE_UNSUPPORTED) && strcmp(err1, err2) != 0)) {
        fprintf(stderr, "two parses of the same argv differ (%d/%d)\n", rc1, rc2);
        abort();
    }
    free(dump1);
    free(dump2);
    free(text);
    return 0;
}
