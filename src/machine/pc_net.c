/* Network wiring of the pc board. */
#include "machine/pc_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    snprintf(err, errlen, fmt, a, b);
    return -1;
}

/* How the user wrote the back end, for messages (never an internal id). */
static void netdev_label(const struct vm_netdev *nd, char *buf, size_t len)
{
    if (!strncmp(nd->id, "__net_", 6))
        snprintf(buf, len, nd->implicit ? "user networking (the default network)" : "-net %s", nd->type);
    else if (!strncmp(nd->id, "__nic", 5))
        snprintf(buf, len, "-nic %s", nd->type);
    else
        snprintf(buf, len, "-netdev %s,id=%s", nd->type, nd->id);
}

static int free_slot(struct pci_bus *pci)
{
    for (int slot = 2; slot < 32; slot++)
        if (!pci->devices[slot << 3])
            return slot;
    return -1;
}

static void reset_e1000(void *opaque) { e1000_reset(opaque); }
static void reset_rtl8139(void *opaque) { rtl8139_reset(opaque); }

static void card_reset(struct pc_nic *n)
{
    if (n->rtl8139)
        rtl8139_reset(n->rtl8139);
    else if (n->e1000)
        e1000_reset(n->e1000);
    else if (n->virtio)
        virtio_pci_reset(&n->virtio->vp);
}

int pc_net_create(struct pc_net *net, const struct vm_config *cfg, struct pci_bus *pci,
                  struct phys_mem *mem, struct vclock *clock, struct mainloop *ml,
                  struct pcvm_log *log, char *err, size_t errlen)
{
    memset(net, 0, sizeof(*net));
    for (unsigned i = 0; i < cfg->n_netdevs; i++) {
        const struct vm_netdev *nd = &cfg->netdevs[i];
        struct pc_netdev *d = &net->netdevs[net->n_netdevs++];
        d->cfg = nd;
        netdev_label(nd, d->label, sizeof(d->label));
        if (!strcmp(nd->type, "user")) {
            d->user = net_user_create(nd, d->label, clock, ml, log, err, errlen);
            if (!d->user)
                return -1;
            d->port = net_user_port(d->user);
        } else if (!strcmp(nd->type, "socket")) {
            d->socket = net_socket_create(nd, d->label, ml, log, err, errlen);
            if (!d->socket)
                return -1;
            d->port = net_socket_port(d->socket);
        } else if (!strcmp(nd->type, "tap")) {
            d->tap = net_tap_create(nd, d->label, ml, log, err, errlen);
            if (!d->tap)
                return -1;
            d->port = net_tap_port(d->tap);
        } else {
            return fail(err, errlen, "pcvm: %s: back end type '%s' not supported yet", d->label, nd->type);
        }
    }
    /* -net/-nic back ends have internal ids; show them as QEMU names them ("user.0") */
    unsigned per_type[3] = { 0, 0, 0 };
    for (unsigned i = 0; i < net->n_netdevs; i++) {
        struct pc_netdev *d = &net->netdevs[i];
        unsigned t = !strcmp(d->cfg->type, "user") ? 0 : !strcmp(d->cfg->type, "tap") ? 1 : 2;
        if (!strncmp(d->cfg->id, "__", 2))
            snprintf(d->port->name, sizeof(d->port->name), "%s.%u", d->cfg->type, per_type[t]++);
    }
    for (unsigned i = 0; i < cfg->n_filters; i++) {
        const struct vm_filter_dump *fd = &cfg->filters[i];
        struct pc_netdev *d = NULL;
        for (unsigned j = 0; j < net->n_netdevs; j++)
            if (!strcmp(net->netdevs[j].cfg->id, fd->netdev))
                d = &net->netdevs[j];
        if (!d)
            return fail(err, errlen, "pcvm: -object filter-dump,id=%s: no -netdev with id '%s'", fd->id, fd->netdev);
        struct net_port *p = d->port;
        unsigned slot = p->dumps[0] ? 1 : 0;
        if (p->dumps[slot])
            return fail(err, errlen, "pcvm: -object filter-dump,id=%s: at most two on netdev '%s'", fd->id, fd->netdev);
        char e[256];
        struct net_dump *dump = net_dump_open(fd->file, fd->maxlen, e, sizeof(e));
        if (!dump)
            return fail(err, errlen, "pcvm: -object filter-dump,id=%s: %s", fd->id, e);
        net->dumps[net->n_dumps++] = dump;
        p->dumps[slot] = dump;
    }
    unsigned auto_mac = 0;
    for (unsigned i = 0; i < cfg->n_nics; i++) {
        const struct vm_nic *nc = &cfg->nics[i];
        struct pc_nic *n = &net->nics[net->n_nics++];
        n->cfg = nc;
        uint8_t mac[6];
        if (nc->has_mac)
            memcpy(mac, nc->mac, 6);
        else
            net_default_mac(auto_mac++, mac);
        int slot = free_slot(pci);
        if (slot < 0)
            return fail(err, errlen, "pcvm: -device %s: no free PCI slot%s", nc->model, "");
        char id[64];
        if (nc->id)
            snprintf(id, sizeof(id), "%s", nc->id);
        else
            snprintf(id, sizeof(id), "%s.%u", nc->model, i);
        int rc;
        if (!strcmp(nc->model, "virtio-net-pci")) {
            n->virtio = calloc(1, sizeof(*n->virtio));
            if (!n->virtio)
                return fail(err, errlen, "pcvm: -device %s: out of memory%s", nc->model, "");
            rc = virtio_net_init(n->virtio, pci, (uint8_t)(slot << 3), mem, log, mac, id, !nc->no_legacy,
                                 !nc->no_modern);
            n->port = &n->virtio->port;
            n->pci = &n->virtio->vp.pci;
        } else if (!strcmp(nc->model, "rtl8139")) {
            n->rtl8139 = calloc(1, sizeof(*n->rtl8139));
            if (!n->rtl8139)
                return fail(err, errlen, "pcvm: -device %s: out of memory%s", nc->model, "");
            rc = rtl8139_init(n->rtl8139, pci, (uint8_t)(slot << 3), mem, clock, log, mac, id, !nc->no_cplus);
            n->pci = &n->rtl8139->pci;
            n->port = &n->rtl8139->port;
        } else {
            n->e1000 = calloc(1, sizeof(*n->e1000));
            if (!n->e1000)
                return fail(err, errlen, "pcvm: -device %s: out of memory%s", nc->model, "");
            rc = e1000_init(n->e1000, pci, (uint8_t)(slot << 3), mem, clock, log, mac, id);
            n->pci = &n->e1000->pci;
            n->port = &n->e1000->port;
        }
        if (rc < 0)
            return fail(err, errlen, "pcvm: -device %s: cannot register the card%s", nc->model, "");
        if (!nc->netdev) {
            /* as QEMU: a card without a back end is created, with a warning */
            fprintf(stderr, "pcvm: warning: %s %s has no back end (no netdev=): its frames go nowhere\n",
                    nc->legacy ? "-net nic" : "-device", nc->model);
            continue;
        }
        struct pc_netdev *d = NULL;
        for (unsigned j = 0; j < net->n_netdevs; j++)
            if (!strcmp(net->netdevs[j].cfg->id, nc->netdev))
                d = &net->netdevs[j];
        if (!d)
            return fail(err, errlen, "pcvm: -device %s,netdev=%s: no such back end", nc->model, nc->netdev);
        if (d->port->peer)
            return fail(err, errlen, "pcvm: %s: already used by another card (one card per back end)%s",
                        d->label, "");
        net_port_link(n->port, d->port);
        if (n->virtio)
            virtio_net_update_link(n->virtio);
        else
            card_reset(n);          /* link state now known */
    }
    return 0;
}

#define IPXE_DIR "/usr/lib/ipxe/qemu"
#define ROM_MAX (1u << 20)

static uint8_t *read_rom(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = malloc(ROM_MAX);
    size_t n = buf ? fread(buf, 1, ROM_MAX, f) : 0;
    bool too_big = buf && n == ROM_MAX && fgetc(f) != EOF;
    fclose(f);
    if (!buf || n < 512 || too_big || buf[0] != 0x55 || buf[1] != 0xaa) {
        free(buf);
        return NULL;
    }
    *size = n;
    return buf;
}

/* A PCI option ROM file may chain several images (iPXE's efi-*.rom: BIOS then EFI). SeaBIOS
 * copies only the x86 image from a ROM BAR; keep that one at the front. Returns its size or 0. */
static size_t x86_image_size(uint8_t *rom, size_t size)
{
    size_t off = 0;
    while (off + 0x1a <= size && rom[off] == 0x55 && rom[off + 1] == 0xaa) {
        size_t pcir = off + (rom[off + 0x18] | (size_t)rom[off + 0x19] << 8);
        if (pcir + 0x18 > size || memcmp(rom + pcir, "PCIR", 4))
            return 0;
        size_t len = (rom[pcir + 0x10] | (size_t)rom[pcir + 0x11] << 8) * 512;
        if (!len || off + len > size)
            return 0;
        if (rom[pcir + 0x14] == 0) {           /* code type 0: x86 BIOS */
            if (off)
                memmove(rom, rom + off, len);
            return len;
        }
        if (rom[pcir + 0x15] & 0x80)           /* last image */
            return 0;
        off += len;
    }
    return 0;
}

int pc_net_add_roms(struct pc_net *net, struct fw_cfg *fw, char *err, size_t errlen)
{
    for (unsigned i = 0; i < net->n_nics; i++) {
        const struct vm_nic *nc = net->nics[i].cfg;
        const struct pci_device *pd = net->nics[i].pci;
        char path[512], name[32];
        if (nc->romfile && !*nc->romfile)
            continue;                              /* romfile= : no ROM */
        if (!nc->romfile)
            snprintf(path, sizeof(path), IPXE_DIR "/efi-%s.rom",
                     net->nics[i].virtio ? "virtio" : nc->model);
        else if (strchr(nc->romfile, '/'))
            snprintf(path, sizeof(path), "%s", nc->romfile);
        else
            snprintf(path, sizeof(path), IPXE_DIR "/%s", nc->romfile);
        snprintf(name, sizeof(name), "pci%04x,%04x.rom", pci_get_word(pd->config), pci_get_word(pd->config + 2));
        size_t size;
        uint8_t *rom = read_rom(path, &size);
        if (!rom) {
            if (!nc->romfile)
                continue;    /* no ipxe-qemu installed: the card works, it just cannot boot */
            return fail(err, errlen, "pcvm: -device %s,romfile=%s: cannot read an option ROM there",
                        nc->model, nc->romfile);
        }
        size = x86_image_size(rom, size);
        if (!size) {
            free(rom);
            if (!nc->romfile)
                continue;
            return fail(err, errlen, "pcvm: -device %s,romfile=%s: no x86 image in that option ROM",
                        nc->model, nc->romfile);
        }
        int r = fw_cfg_add_file(fw, name, rom, (uint32_t)size);
        free(rom);
        if (r < 0 && !nc->romfile)
            continue;        /* a second card of the same model shares the first one's ROM */
    }
    return 0;
}

void pc_net_boot_paths(const struct pc_net *net, char *buf, size_t len)
{
    for (unsigned i = 0; i < net->n_nics; i++) {
        size_t used = strlen(buf);
        if (net->nics[i].virtio)
            snprintf(buf + used, len - used, "/pci@i0cf8/ethernet@%x\n", net->nics[i].virtio->vp.pci.devfn >> 3);
        else if (net->nics[i].pci)
            snprintf(buf + used, len - used, "/pci@i0cf8/ethernet@%x/ethernet-phy@0\n",
                     net->nics[i].pci->devfn >> 3);
    }
}

void pc_net_card_device(struct pc_net *net, unsigned i, struct device *d)
{
    struct pc_nic *n = &net->nics[i];
    memset(d, 0, sizeof(*d));
    if (n->virtio) {
        d->type = "virtio-net-pci";
        d->bus = "pci.0";
        d->opaque = n->virtio;
        d->vmsd = &virtio_net_vmstate;
        d->reset = virtio_net_reset;
        d->bus_data = &n->virtio->vp.pci;
        return;
    }
    d->type = n->rtl8139 ? "rtl8139" : "e1000";
    d->bus = "pci.0";
    d->opaque = n->rtl8139 ? (void *)n->rtl8139 : (void *)n->e1000;
    d->vmsd = n->rtl8139 ? &rtl8139_vmstate : &e1000_vmstate;
    d->reset = n->rtl8139 ? reset_rtl8139 : reset_e1000;
    d->bus_data = n->pci;
}

void pc_net_reset(struct pc_net *net)
{
    for (unsigned i = 0; i < net->n_nics; i++)
        card_reset(&net->nics[i]);
}

void pc_net_destroy(struct pc_net *net)
{
    for (unsigned i = 0; i < net->n_nics; i++) {
        if (net->nics[i].e1000) {
            e1000_destroy(net->nics[i].e1000);
            free(net->nics[i].e1000);
        } else if (net->nics[i].virtio) {
            virtio_net_destroy(net->nics[i].virtio);
            free(net->nics[i].virtio);
        }
        if (net->nics[i].rtl8139) {
            rtl8139_destroy(net->nics[i].rtl8139);
            free(net->nics[i].rtl8139);
        }
    }
    for (unsigned i = 0; i < net->n_netdevs; i++) {
        net_user_destroy(net->netdevs[i].user);
        net_socket_destroy(net->netdevs[i].socket);
        net_tap_destroy(net->netdevs[i].tap);
    }
    for (unsigned i = 0; i < net->n_dumps; i++)
        net_dump_close(net->dumps[i]);
    memset(net, 0, sizeof(*net));
}
