/* -netdev user: user-mode networking through libslirp (NAT, DHCP, DNS, TFTP, host forwarding).
 * Its timers run on the virtual clock and its sockets are polled by the main loop. */
#ifndef PCVM_NET_USER_H
#define PCVM_NET_USER_H

#include <stddef.h>
#include <stdint.h>

#include "cli/config.h"
#include "net/net.h"
#include "util/log.h"
#include "util/mainloop.h"
#include "util/vclock.h"

struct net_user;

/* Start a user network for nd; what names it in messages is `label` ("-netdev user,id=net0").
 * NULL with one line in err (bad address, host port in use ...). */
struct net_user *net_user_create(const struct vm_netdev *nd, const char *label, struct vclock *clock,
                                 struct mainloop *ml, struct pcvm_log *log, char *err, size_t errlen);
/* The back end's port (link it to a card). */
struct net_port *net_user_port(struct net_user *u);
/* hostfwd_add: add a rule "[tcp|udp]:[haddr]:hport-[gaddr]:gport"; 0 or -1 with err. */
int net_user_hostfwd_add(struct net_user *u, const char *rule, char *err, size_t errlen);
/* hostfwd_remove: remove "[tcp|udp]:[haddr]:hport"; 0 or -1 with err. */
int net_user_hostfwd_remove(struct net_user *u, const char *rule, char *err, size_t errlen);
/* libslirp's table of connections (info usernet); the caller frees it. */
char *net_user_connections(struct net_user *u);
struct vmbuf;
/* Append libslirp's state (its connections) to out and give its format version; 0 or -1. */
int net_user_state_save(struct net_user *u, struct vmbuf *out, uint32_t *version);
/* The newest libslirp state version this build reads. */
uint32_t net_user_state_version(void);
/* Load a state saved by net_user_state_save; 0 or -1 with one line in err. */
int net_user_state_load(struct net_user *u, uint32_t version, const uint8_t *data, size_t len, char *err,
                        size_t errlen);
/* Stop the network, close its sockets, free it. */
void net_user_destroy(struct net_user *u);

#endif
