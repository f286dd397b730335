#ifndef CUSTODIAN_CLIBPQ_SHIM_H
#define CUSTODIAN_CLIBPQ_SHIM_H
#include <libpq-fe.h>
/* What waiting on libpq's sockets needs (SocketWaiter); Swift's Glibc module leaves these out. */
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif
