/* Monitor commands of the network: info network, info usernet, hostfwd_add, hostfwd_remove,
 * set_link. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "machine/pc_net.h"
#include "monitor/monitor.h"
#include "monitor/registry.h"

static void info_network(struct monitor *mon, const char *args, void *opaque)
{
    struct pc_net *net = opaque;
    (void)args;
    bool shown[VM_MAX_NETDEVS] = { false };
    for (unsigned i = 0; i < net->n_nics; i++) {
        struct net_port *p = net->nics[i].port;
        if (!p)
            continue;
        monitor_printf(mon, "%s: index=0,type=nic,%s%s\n", p->name, p->info, p->link_down ? ",link=down" : "");
        for (unsigned j = 0; j < net->n_netdevs; j++)
            if (net->netdevs[j].port && net->netdevs[j].port == p->peer) {
                struct net_port *b = net->netdevs[j].port;
                monitor_printf(mon, " \\ %s: index=0,type=%s,%s%s\n", b->name, b->kind, b->info,
                               b->link_down ? ",link=down" : "");
                shown[j] = true;
            }
    }
    for (unsigned j = 0; j < net->n_netdevs; j++) {
        struct net_port *b = net->netdevs[j].port;
        if (!shown[j] && b)
            monitor_printf(mon, "%s: index=0,type=%s,%s%s\n", b->name, b->kind, b->info,
                           b->link_down ? ",link=down" : "");
    }
}

static void info_usernet(struct monitor *mon, const char *args, void *opaque)
{
    struct pc_net *net = opaque;
    (void)args;
    for (unsigned j = 0; j < net->n_netdevs; j++) {
        if (!net->netdevs[j].user)
            continue;
        char *s = net_user_connections(net->netdevs[j].user);
        monitor_printf(mon, "Hub -1 (%s):\n%s", net->netdevs[j].port->name, s ? s : "");
        free(s);
    }
}

/* The user network a hostfwd command names (first word, when there are two), or the only one. */
static struct net_user *pick_user(struct pc_net *net, const char *args, const char **rule,
                                  struct monitor *mon)
{
    char first[64];
    const char *sp = strchr(args, ' ');
    if (sp) {
        size_t n = (size_t)(sp - args) < sizeof(first) - 1 ? (size_t)(sp - args) : sizeof(first) - 1;
        memcpy(first, args, n);
        first[n] = '\0';
        *rule = sp + 1;
        while (**rule == ' ')
            (*rule)++;
        for (unsigned j = 0; j < net->n_netdevs; j++)
            if (net->netdevs[j].user && !strcmp(net->netdevs[j].cfg->id, first))
                return net->netdevs[j].user;
        monitor_printf(mon, "could not find netdev '%s'\n", first);
        return NULL;
    }
    *rule = args;
    for (unsigned j = 0; j < net->n_netdevs; j++)
        if (net->netdevs[j].user)
            return net->netdevs[j].user;
    monitor_printf(mon, "no user-mode network (-netdev user)\n");
    return NULL;
}

static void hostfwd_add(struct monitor *mon, const char *args, void *opaque)
{
    const char *rule;
    struct net_user *u = pick_user(opaque, args, &rule, mon);
    char err[256];
    if (u && net_user_hostfwd_add(u, rule, err, sizeof(err)) < 0)
        monitor_printf(mon, "%s\n", err);
}

static void hostfwd_remove(struct monitor *mon, const char *args, void *opaque)
{
    const char *rule;
    struct net_user *u = pick_user(opaque, args, &rule, mon);
    char err[256];
    if (u && net_user_hostfwd_remove(u, rule, err, sizeof(err)) < 0)
        monitor_printf(mon, "%s\n", err);
}

static void set_link(struct monitor *mon, const char *args, void *opaque)
{
    struct pc_net *net = opaque;
    char name[64], state[8];
    if (sscanf(args, "%63s %7s", name, state) != 2 || (strcmp(state, "on") && strcmp(state, "off"))) {
        monitor_printf(mon, "usage: set_link name on|off\n");
        return;
    }
    struct net_port *p = NULL;
    for (unsigned i = 0; i < net->n_nics && !p; i++)
        if (net->nics[i].port && !strcmp(net->nics[i].port->name, name))
            p = net->nics[i].port;
    for (unsigned j = 0; j < net->n_netdevs && !p; j++)
        if (net->netdevs[j].port && !strcmp(net->netdevs[j].port->name, name))
            p = net->netdevs[j].port;
    if (!p) {
        monitor_printf(mon, "Device '%s' not found\n", name);
        return;
    }
    net_port_set_link(p, !strcmp(state, "on"));
}

static const struct hmp_command net_hmp_commands[] = {
    { "info network", NULL, "", "show the network state", info_network },
    { "info usernet", NULL, "", "show user network stack connection states", info_usernet },
    { "hostfwd_add", NULL, "[netdev_id] [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport",
      "redirect TCP or UDP connections from host to guest (requires -net user)", hostfwd_add },
    { "hostfwd_remove", NULL, "[netdev_id] [tcp|udp]:[hostaddr]:hostport",
      "remove host-to-guest TCP or UDP redirection", hostfwd_remove },
    { "set_link", NULL, "name on|off", "change the link status of a network adapter", set_link },
};

void pc_net_monitor_register(struct pc_net *net, struct monitor_registry *reg)
{
    monitor_registry_add_hmp(reg, net_hmp_commands, sizeof(net_hmp_commands) / sizeof(net_hmp_commands[0]), net);
}
