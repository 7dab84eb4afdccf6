/* Physical address space and port I/O dispatch. */
#include "mem/memory.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

int phys_mem_init(struct phys_mem *pm, uint64_t ram_size, uint32_t ram_below_4g)
{
    memset(pm, 0, sizeof(*pm));
    if (ram_size == 0 || ram_below_4g > ram_size)
        return -1;
    /* mmap gives page-aligned, lazily zeroed memory: untouched guest RAM costs nothing. */
    void *ram = mmap(NULL, ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (ram == MAP_FAILED)
        return -1;
    pm->ram = ram;
    pm->ram_size = ram_size;
    pm->ram_below_4g = ram_below_4g;
    pm->pages = mmap(NULL, sizeof(uintptr_t) * PHYS_PAGE_COUNT, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (pm->pages == MAP_FAILED) {
        munmap(ram, ram_size);
        pm->ram = NULL;
        pm->pages = NULL;
        return -1;
    }
    pm->code_pages_count = (ram_below_4g + PHYS_PAGE_SIZE - 1) >> PHYS_PAGE_SHIFT;
    pm->code_pages = calloc(pm->code_pages_count ? pm->code_pages_count : 1, 1);
    pm->code_cpus = calloc(pm->code_pages_count ? pm->code_pages_count : 1, sizeof(uint32_t));
    if (!pm->code_pages || !pm->code_cpus) {
        phys_mem_destroy(pm);
        return -1;
    }
    phys_map_host(pm, 0, ram_below_4g, pm->ram, true);
    return 0;
}

void phys_mem_destroy(struct phys_mem *pm)
{
    if (pm->ram)
        munmap(pm->ram, pm->ram_size);
    if (pm->pages)
        munmap(pm->pages, sizeof(uintptr_t) * PHYS_PAGE_COUNT);
    free(pm->code_pages);
    free(pm->code_cpus);
    memset(pm, 0, sizeof(*pm));
}

void phys_map_host(struct phys_mem *pm, uint32_t paddr, uint32_t len, uint8_t *host, bool writable)
{
    uint32_t first = paddr >> PHYS_PAGE_SHIFT;
    uint32_t n = (uint32_t)(((uint64_t)len + PHYS_PAGE_SIZE - 1) >> PHYS_PAGE_SHIFT);
    uintptr_t flags = PHYS_DIRECT_READ | (writable ? PHYS_DIRECT_WRITE : 0);
    for (uint32_t i = 0; i < n && first + i < PHYS_PAGE_COUNT; i++)
        pm->pages[first + i] = ((uintptr_t)host + ((uintptr_t)i << PHYS_PAGE_SHIFT)) | flags;
}

void phys_unmap(struct phys_mem *pm, uint32_t paddr, uint32_t len)
{
    uint32_t first = paddr >> PHYS_PAGE_SHIFT;
    uint32_t n = (uint32_t)(((uint64_t)len + PHYS_PAGE_SIZE - 1) >> PHYS_PAGE_SHIFT);
    for (uint32_t i = 0; i < n && first + i < PHYS_PAGE_COUNT; i++)
        pm->pages[first + i] = 0;
}

static void mmio_fill(struct phys_mem *pm, int index)
{
    struct mmio_region *r = &pm->mmio[index];
    uint32_t first = r->base >> PHYS_PAGE_SHIFT;
    uint32_t n = (uint32_t)(((uint64_t)r->len + PHYS_PAGE_SIZE - 1) >> PHYS_PAGE_SHIFT);
    for (uint32_t i = 0; i < n && first + i < PHYS_PAGE_COUNT; i++)
        pm->pages[first + i] = PHYS_MMIO | ((uintptr_t)index << PHYS_MMIO_INDEX_SHIFT);
}

int phys_map_mmio(struct phys_mem *pm, uint32_t paddr, uint32_t len, void *opaque,
                  mmio_read_fn read, mmio_write_fn write, const char *name)
{
    if (pm->mmio_count > PHYS_MAX_MMIO)
        return -1;
    int index = (int)pm->mmio_count++;
    struct mmio_region *r = &pm->mmio[index];
    *r = (struct mmio_region){ .base = paddr, .len = len, .opaque = opaque, .read = read,
                               .write = write, .name = name, .active = len != 0 };
    if (len)
        mmio_fill(pm, index);
    return index;
}

void phys_remap_mmio(struct phys_mem *pm, int index, uint32_t paddr, uint32_t len)
{
    if (index < 0 || (unsigned)index >= pm->mmio_count)
        return;
    struct mmio_region *r = &pm->mmio[index];
    if (r->active) {
        /* Give the old pages back to RAM where RAM lives, else to nothing. */
        uint32_t first = r->base >> PHYS_PAGE_SHIFT;
        uint32_t n = (uint32_t)(((uint64_t)r->len + PHYS_PAGE_SIZE - 1) >> PHYS_PAGE_SHIFT);
        for (uint32_t i = 0; i < n && first + i < PHYS_PAGE_COUNT; i++) {
            uint32_t pn = first + i;
            if ((pm->pages[pn] & PHYS_MMIO) &&
                ((pm->pages[pn] >> PHYS_MMIO_INDEX_SHIFT) & 0xff) == (uintptr_t)index) {
                uint64_t a = (uint64_t)pn << PHYS_PAGE_SHIFT;
                pm->pages[pn] = a < pm->ram_below_4g
                    ? ((uintptr_t)(pm->ram + a) | PHYS_DIRECT_READ | PHYS_DIRECT_WRITE) : 0;
            }
        }
    }
    r->base = paddr;
    r->len = len;
    r->active = len != 0;
    if (r->active)
        mmio_fill(pm, index);
}

static struct mmio_region *mmio_at(struct phys_mem *pm, uint32_t paddr)
{
    uintptr_t e = pm->pages[paddr >> PHYS_PAGE_SHIFT];
    if (!(e & PHYS_MMIO))
        return NULL;
    struct mmio_region *r = &pm->mmio[(e >> PHYS_MMIO_INDEX_SHIFT) & 0xff];
    if (paddr - r->base >= r->len)
        return NULL;
    return r;
}

static inline uint32_t load_le(const uint8_t *p, unsigned size)
{
    uint32_t v = 0;
    memcpy(&v, p, size); /* x86 hosts are little-endian, like the guest */
    return v;
}

uint32_t phys_read(struct phys_mem *pm, uint32_t paddr, unsigned size)
{
    /* Accesses that cross a page are split bytewise. */
    if ((paddr & (PHYS_PAGE_SIZE - 1)) + size > PHYS_PAGE_SIZE) {
        uint32_t v = 0;
        for (unsigned i = 0; i < size; i++)
            v |= phys_read(pm, paddr + i, 1) << (8 * i);
        return v;
    }
    uint8_t *p = phys_direct(pm, paddr, false);
    if (p)
        return load_le(p, size);
    struct mmio_region *r = mmio_at(pm, paddr);
    uint32_t v = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    if (pm->lock)
        pm->lock(pm->lock_opaque, true);
    if (r && r->read)
        v = r->read(r->opaque, paddr - r->base, size);
    else if (!r && pm->unassigned)
        pm->unassigned(pm->unassigned_opaque, paddr, false, size);
    if (pm->lock)
        pm->lock(pm->lock_opaque, false);
    return v;
}

void phys_write(struct phys_mem *pm, uint32_t paddr, uint32_t value, unsigned size)
{
    if ((paddr & (PHYS_PAGE_SIZE - 1)) + size > PHYS_PAGE_SIZE) {
        for (unsigned i = 0; i < size; i++)
            phys_write(pm, paddr + i, (value >> (8 * i)) & 0xff, 1);
        return;
    }
    uint8_t *p = phys_direct(pm, paddr, true);
    if (p) {
        memcpy(p, &value, size);
        if (phys_is_code_page(pm, paddr) && pm->code_write)
            pm->code_write(pm->code_write_opaque, paddr, size);
        return;
    }
    if (phys_direct(pm, paddr, false))
        return; /* ROM: writes are dropped */
    struct mmio_region *r = mmio_at(pm, paddr);
    if (pm->lock)
        pm->lock(pm->lock_opaque, true);
    if (r && r->write)
        r->write(r->opaque, paddr - r->base, value, size);
    else if (!r && pm->unassigned)
        pm->unassigned(pm->unassigned_opaque, paddr, true, size);
    if (pm->lock)
        pm->lock(pm->lock_opaque, false);
}

void phys_read_block(struct phys_mem *pm, uint32_t paddr, void *buf, size_t len)
{
    uint8_t *out = buf;
    while (len) {
        uint32_t in_page = PHYS_PAGE_SIZE - (paddr & (PHYS_PAGE_SIZE - 1));
        size_t chunk = len < in_page ? len : in_page;
        uint8_t *p = phys_direct(pm, paddr, false);
        if (p) {
            memcpy(out, p, chunk);
        } else {
            for (size_t i = 0; i < chunk; i++)
                out[i] = (uint8_t)phys_read(pm, paddr + (uint32_t)i, 1);
        }
        out += chunk;
        paddr += (uint32_t)chunk;
        len -= chunk;
    }
}

void phys_write_block(struct phys_mem *pm, uint32_t paddr, const void *buf, size_t len)
{
    const uint8_t *in = buf;
    while (len) {
        uint32_t in_page = PHYS_PAGE_SIZE - (paddr & (PHYS_PAGE_SIZE - 1));
        size_t chunk = len < in_page ? len : in_page;
        uint8_t *p = phys_direct(pm, paddr, true);
        if (p) {
            memcpy(p, in, chunk);
            if (phys_is_code_page(pm, paddr) && pm->code_write)
                pm->code_write(pm->code_write_opaque, paddr, (unsigned)chunk);
        } else {
            for (size_t i = 0; i < chunk; i++)
                phys_write(pm, paddr + (uint32_t)i, in[i], 1);
        }
        in += chunk;
        paddr += (uint32_t)chunk;
        len -= chunk;
    }
}

/* ---- Port I/O ---- */

void io_bus_init(struct io_bus *bus)
{
    memset(bus, 0, sizeof(*bus));
}

static void io_fill(struct io_bus *bus, int handle, uint16_t base, uint32_t len, uint8_t value)
{
    for (uint32_t i = 0; i < len && base + i < 65536; i++)
        if (value || bus->index[base + i] == handle + 1)
            bus->index[base + i] = value;
}

int io_register(struct io_bus *bus, uint16_t base, uint32_t len, void *opaque,
                io_read_fn read, io_write_fn write, unsigned sizes, const char *name)
{
    if (bus->count >= IO_MAX_HANDLERS)
        return -1;
    int handle = (int)bus->count++;
    bus->handlers[handle] = (struct io_handler){ .base = base, .len = len, .opaque = opaque,
                                                 .read = read, .write = write,
                                                 .sizes = sizes ? sizes : IO_SIZE_1, .name = name };
    io_fill(bus, handle, base, len, (uint8_t)(handle + 1));
    return handle;
}

void io_remap(struct io_bus *bus, int handle, uint16_t base, uint32_t len)
{
    if (handle < 0 || (unsigned)handle >= bus->count)
        return;
    struct io_handler *h = &bus->handlers[handle];
    io_fill(bus, handle, h->base, h->len, 0);
    h->base = base;
    h->len = len;
    io_fill(bus, handle, base, len, (uint8_t)(handle + 1));
}

static uint32_t io_read_locked(struct io_bus *bus, uint16_t port, unsigned size);

uint32_t io_read(struct io_bus *bus, uint16_t port, unsigned size)
{
    if (!bus->lock)
        return io_read_locked(bus, port, size);
    bus->lock(bus->lock_opaque, true);
    uint32_t v = io_read_locked(bus, port, size);
    bus->lock(bus->lock_opaque, false);
    return v;
}

static uint32_t io_read_locked(struct io_bus *bus, uint16_t port, unsigned size)
{
    uint8_t idx = bus->index[port];
    if (idx) {
        struct io_handler *h = &bus->handlers[idx - 1];
        /* One call when the handler takes this size and owns every byte of it. */
        if ((h->sizes & size) && (uint32_t)(port - h->base) + size <= h->len && h->read)
            return h->read(h->opaque, port, size);
    }
    if (size > 1) {
        unsigned half = size / 2;
        uint32_t lo = io_read_locked(bus, port, half);
        uint32_t hi = io_read_locked(bus, (uint16_t)(port + half), half);
        return lo | (hi << (8 * half));
    }
    if (idx) {
        struct io_handler *h = &bus->handlers[idx - 1];
        return h->read ? h->read(h->opaque, port, 1) & 0xff : 0xff;
    }
    if (bus->unassigned)
        bus->unassigned(bus->unassigned_opaque, port, false, size);
    return 0xff;
}

static void io_write_locked(struct io_bus *bus, uint16_t port, uint32_t value, unsigned size);

void io_write(struct io_bus *bus, uint16_t port, uint32_t value, unsigned size)
{
    if (!bus->lock) {
        io_write_locked(bus, port, value, size);
        return;
    }
    bus->lock(bus->lock_opaque, true);
    io_write_locked(bus, port, value, size);
    bus->lock(bus->lock_opaque, false);
}

static void io_write_locked(struct io_bus *bus, uint16_t port, uint32_t value, unsigned size)
{
    uint8_t idx = bus->index[port];
    if (idx) {
        struct io_handler *h = &bus->handlers[idx - 1];
        if ((h->sizes & size) && (uint32_t)(port - h->base) + size <= h->len) {
            if (h->write)
                h->write(h->opaque, port, value, size);
            return;
        }
    }
    if (size > 1) {
        unsigned half = size / 2;
        io_write_locked(bus, port, value & ((1u << (8 * half)) - 1), half);
        io_write_locked(bus, (uint16_t)(port + half), value >> (8 * half), half);
        return;
    }
    if (idx) {
        struct io_handler *h = &bus->handlers[idx - 1];
        if (h->write)
            h->write(h->opaque, port, value & 0xff, 1);
        return;
    }
    if (bus->unassigned)
        bus->unassigned(bus->unassigned_opaque, port, true, size);
}
