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
    if (!strncmp(nd->id, "__net_user", 10))
        snprintf(buf, len, nd->implicit ? "user networking (the default network)" : "-net user");
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
        } else {
            return fail(err, errlen, "pcvm: %s: back end type '%s' not supported yet", d->label, nd->type);
        }
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
        n->e1000 = calloc(1, sizeof(*n->e1000));
        if (!n->e1000)
            return fail(err, errlen, "pcvm: -device %s: out of memory%s", nc->model, "");
        if (e1000_init(n->e1000, pci, (uint8_t)(slot << 3), mem, clock, log, mac, id) < 0)
            return fail(err, errlen, "pcvm: -device %s: cannot register the card%s", nc->model, "");
        n->port = &n->e1000->port;
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
        e1000_reset(n->e1000);      /* link state now known */
    }
    return 0;
}

void pc_net_reset(struct pc_net *net)
{
    for (unsigned i = 0; i < net->n_nics; i++)
        if (net->nics[i].e1000)
            e1000_reset(net->nics[i].e1000);
}

void pc_net_destroy(struct pc_net *net)
{
    for (unsigned i = 0; i < net->n_nics; i++)
        if (net->nics[i].e1000) {
            e1000_destroy(net->nics[i].e1000);
            free(net->nics[i].e1000);
        }
    for (unsigned i = 0; i < net->n_netdevs; i++)
        net_user_destroy(net->netdevs[i].user);
    memset(net, 0, sizeof(*net));
}
