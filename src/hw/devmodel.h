/* The device model: every device and every CPU registers with the board in one list (struct
 * device_list) with its QEMU type name, a QEMU-style id, reset, a state description, an
 * optional info printer and destroy. Reset, teardown, `info qtree`, -device and snapshots walk
 * that list.
 *
 * A state description (struct vmstate_desc) is a table of fields (type, offset in the
 * device's struct, element count) with a version and optional pre-save / post-load hooks.
 * Only guest-visible state goes in the table; host-only things (fds, threads, caches,
 * pointers, mappings derived from registers) stay outside it and are rebuilt by post_load.
 * Declare fields with the VMF* macros below: the element type is inferred from the member's
 * C type at compile time, so a table cannot disagree with its struct.
 *
 * Encoding (pcvm's own): little endian, each element at its natural size, bool as one byte,
 * sub-structures inline, a timer as armed (1 byte) + deadline (8 bytes), a buffer as one
 * flag byte per 4 KiB page followed by the page when it is not all zero. */
#ifndef PCVM_HW_DEVMODEL_H
#define PCVM_HW_DEVMODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/vclock.h"

enum vmf_type {
    VMF_END,       /* terminates a field table */
    VMF_U8, VMF_U16, VMF_U32, VMF_U64,
    VMF_I8, VMF_I16, VMF_I32, VMF_I64,
    VMF_BOOL,
    VMF_STRUCT,    /* count elements of a sub-description, stride bytes apart */
    VMF_TIMER,     /* a struct vtimer: armed and deadline; load re-arms it */
    VMF_BUFFER,    /* a pointer member to count bytes (e.g. video memory) */
};

struct vmstate_desc;

struct vmstate_field {
    const char *name;
    enum vmf_type type;
    size_t offset;
    uint32_t count;                 /* array elements (1 for a scalar); bytes for VMF_BUFFER */
    uint32_t stride;                /* VMF_STRUCT: element size */
    const struct vmstate_desc *sub; /* VMF_STRUCT */
    uint32_t since;                 /* first description version with this field */
    bool has_max;                   /* refuse a loaded element above max */
    uint64_t max;
};

struct vmstate_desc {
    const char *name;
    uint32_t version;               /* what save writes */
    uint32_t min_version;           /* oldest version load accepts (0: same as version) */
    const struct vmstate_field *fields;
    /* Before saving (drain in-flight requests, fold lazy state); 0 or -1. */
    int (*pre_save)(void *opaque);
    /* After loading every field: check invariants the fields cannot express, rebuild host-side
     * state (mappings, output levels); 0, or -1 with a reason in err. */
    int (*post_load)(void *opaque, char *err, size_t errlen);
};

/* Element type of an expression, inferred (a compile error for an unsupported type). */
#define VMF__TYPE(x) _Generic((x), \
    _Bool: VMF_BOOL, char: VMF_U8, unsigned char: VMF_U8, signed char: VMF_I8, \
    unsigned short: VMF_U16, short: VMF_I16, unsigned int: VMF_U32, int: VMF_I32, \
    unsigned long: VMF_U64, long: VMF_I64, unsigned long long: VMF_U64, long long: VMF_I64)
#define VMF__MEMBER(st, f) (((st *)0)->f)

/* A scalar member, an array member, a two-dimensional array member. */
#define VMF(st, f) \
    { .name = #f, .type = VMF__TYPE(VMF__MEMBER(st, f)), .offset = offsetof(st, f), .count = 1 }
#define VMF_ARRAY(st, f) \
    { .name = #f, .type = VMF__TYPE(VMF__MEMBER(st, f)[0]), .offset = offsetof(st, f), \
      .count = sizeof(VMF__MEMBER(st, f)) / sizeof(VMF__MEMBER(st, f)[0]) }
#define VMF_ARRAY2(st, f) \
    { .name = #f, .type = VMF__TYPE(VMF__MEMBER(st, f)[0][0]), .offset = offsetof(st, f), \
      .count = sizeof(VMF__MEMBER(st, f)) / sizeof(VMF__MEMBER(st, f)[0][0]) }
/* A scalar whose loaded value must not exceed max (indexes, enums). */
#define VMF_MAX(st, f, m) \
    { .name = #f, .type = VMF__TYPE(VMF__MEMBER(st, f)), .offset = offsetof(st, f), .count = 1, \
      .has_max = true, .max = (m) }
/* Raw bytes of any member (unions of bytes such as XMM registers). */
#define VMF_BYTES(st, f) \
    { .name = #f, .type = VMF_U8, .offset = offsetof(st, f), .count = sizeof(VMF__MEMBER(st, f)) }
/* A struct member (or array of them) described by desc. */
#define VMF_STRUCT(st, f, desc) \
    { .name = #f, .type = VMF_STRUCT, .offset = offsetof(st, f), .count = 1, \
      .stride = sizeof(VMF__MEMBER(st, f)), .sub = &(desc) }
#define VMF_STRUCT_ARRAY(st, f, desc) \
    { .name = #f, .type = VMF_STRUCT, .offset = offsetof(st, f), \
      .count = sizeof(VMF__MEMBER(st, f)) / sizeof(VMF__MEMBER(st, f)[0]), \
      .stride = sizeof(VMF__MEMBER(st, f)[0]), .sub = &(desc) }
/* A struct vtimer member. */
#define VMF_TIMER(st, f) \
    { .name = #f, .type = VMF_TIMER, .offset = offsetof(st, f), .count = 1 }
/* A pointer member to a buffer of len bytes. */
#define VMF_BUFFER(st, f, len) \
    { .name = #f, .type = VMF_BUFFER, .offset = offsetof(st, f), .count = (len) }
#define VMF_END_OF_LIST { .name = NULL, .type = VMF_END }

/* A growable byte buffer the state is written into. */
struct vmbuf {
    uint8_t *data;
    size_t len, cap;
    bool failed;                    /* out of memory: the contents are incomplete */
};
/* Append len bytes. */
void vmbuf_put(struct vmbuf *b, const void *p, size_t len);
/* Append little-endian integers. */
void vmbuf_put_u8(struct vmbuf *b, uint8_t v);
void vmbuf_put_u32(struct vmbuf *b, uint32_t v);
void vmbuf_put_u64(struct vmbuf *b, uint64_t v);
/* Release the buffer. */
void vmbuf_free(struct vmbuf *b);

/* A bounded reader over saved state: every read checks the remaining length. */
struct vmreader {
    const uint8_t *p;
    size_t left;
};
/* Read len bytes (false when fewer remain). */
bool vmreader_get(struct vmreader *r, void *out, size_t len);
bool vmreader_get_u32(struct vmreader *r, uint32_t *v);
bool vmreader_get_u64(struct vmreader *r, uint64_t *v);

/* Write the fields of desc for the object at opaque (pre_save is not called here). */
void vmstate_save(const struct vmstate_desc *desc, const void *opaque, struct vmbuf *out);
/* Read fields saved with description version `version` into opaque and run post_load;
 * 0 or -1 with a reason in err. */
int vmstate_load(const struct vmstate_desc *desc, void *opaque, uint32_t version, struct vmreader *r,
                 char *err, size_t errlen);

/* printf-like sink for info printers (the monitor passes monitor_printf's adapter). */
typedef void (*devmodel_print_fn)(void *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print the fields of desc as "name = value" lines, indented. */
void vmstate_print(const struct vmstate_desc *desc, const void *opaque, int indent, devmodel_print_fn pr,
                   void *ctx);

/* One registered device or CPU. */
struct device {
    const char *type;               /* QEMU type name: "isa-serial", "i8259", "cpu" */
    char id[32];                    /* QEMU-style id: "serial0", "cpu1", or -device id= */
    const char *bus;                /* where info qtree shows it: "sysbus", "isa.0", "pci.0" */
    void *opaque;                   /* the device's own struct */
    const struct vmstate_desc *vmsd;/* NULL: stateless (nothing to save) */
    void (*reset)(void *opaque);    /* power-on / system_reset state; may be NULL */
    void *bus_data;                 /* the bus's view (struct pci_device * on "pci.0"), or NULL */
    /* Extra lines for info qtree beyond the saved fields (addresses, ...); may be NULL. */
    void (*info)(const struct device *d, int indent, devmodel_print_fn pr, void *ctx);
    void (*destroy)(void *opaque);  /* free host resources; may be NULL */
    /* Why the machine cannot be saved while this device exists (state not described yet),
     * or NULL. */
    const char *no_snapshot;
    /* Why the machine cannot be saved right now (e.g. a share the guest has mounted), or NULL;
     * the hook may be NULL. */
    const char *(*snapshot_blocker)(void *opaque);
};

/* The board's list, in registration order (reset and load walk it in this order, destroy
 * in reverse). */
struct device_list {
    struct device *v;
    unsigned n, cap;
};

/* Register a device (copied); returns it, or NULL when out of memory or the id is taken. */
struct device *devlist_add(struct device_list *l, const struct device *d);
/* Find a registered device by id, or NULL. */
struct device *devlist_find(const struct device_list *l, const char *id);
/* Reset every device in registration order. */
void devlist_reset(struct device_list *l);
/* Destroy every device in reverse order and free the list. */
void devlist_destroy(struct device_list *l);
/* Why the machine cannot be saved now ("device 'x' (type): reason"), or NULL. */
const char *devlist_snapshot_blocker(const struct device_list *l);
/* Run every pre_save hook, then write a section per device with state; 0 or -1 with err. */
int devlist_save(struct device_list *l, struct vmbuf *out, char *err, size_t errlen);
/* Load the sections written by devlist_save into the registered devices: every device with
 * state needs its section, an unknown section or a newer version is refused; 0 or -1 with
 * err. On failure the devices may hold part of the new state (the caller resets or exits). */
int devlist_load(struct device_list *l, const uint8_t *data, size_t len, char *err, size_t errlen);
/* Check the section framing of saved state without loading it (ids known, versions
 * supported, lengths consistent); 0 or -1 with err. */
int devlist_check(const struct device_list *l, const uint8_t *data, size_t len, char *err, size_t errlen);
/* Print the info qtree tree: buses and their devices with their scalar and array state fields. */
void devlist_print_qtree(const struct device_list *l, devmodel_print_fn pr, void *ctx);

#endif
