#ifndef CUSTODIAN_CLIBPQ_SHIM_H
#define CUSTODIAN_CLIBPQ_SHIM_H
#include <libpq-fe.h>
#endif
