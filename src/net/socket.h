/* -netdev socket: frames over a TCP connection to another pcvm/QEMU (listen= or connect=,
 * each frame preceded by its length as 4 bytes big-endian, QEMU's stream format) or over UDP
 * multicast (mcast=, one frame per datagram). */
#ifndef PCVM_NET_SOCKET_H
#define PCVM_NET_SOCKET_H

#include <stddef.h>

#include "cli/config.h"
#include "net/net.h"
#include "util/log.h"
#include "util/mainloop.h"

struct net_socket;

/* Listen, connect or join the group as nd says; NULL with one line in err (named by label). */
struct net_socket *net_socket_create(const struct vm_netdev *nd, const char *label, struct mainloop *ml,
                                     struct pcvm_log *log, char *err, size_t errlen);
/* The back end's port. */
struct net_port *net_socket_port(struct net_socket *s);
/* Close the sockets and free. */
void net_socket_destroy(struct net_socket *s);

#endif
