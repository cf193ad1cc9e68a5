/*
 * lazy_pq.h - libpq through berth_lazy_load(BERTH_LIB_PQ): include it
 * instead of <libpq-fe.h>. The calls keep their names; each is a call
 * through the loaded table (lazylib.h).
 */
#ifndef BERTH_LAZY_PQ_H
#define BERTH_LAZY_PQ_H

#include <libpq-fe.h>
#include "lazylib.h"

/* Every libpq function berth calls: a call to one not listed fails to link. */
#define BERTH_LAZY_PQ_SYMS(X)                                                               \
    X(PQclear)                                                                              \
    X(PQcmdTuples)                                                                          \
    X(PQconnectdb)                                                                          \
    X(PQdescribePrepared)                                                                   \
    X(PQerrorMessage)                                                                       \
    X(PQexec)                                                                               \
    X(PQexecPrepared)                                                                       \
    X(PQfinish)                                                                             \
    X(PQfname)                                                                              \
    X(PQfreemem)                                                                            \
    X(PQftype)                                                                              \
    X(PQgetisnull)                                                                          \
    X(PQgetlength)                                                                          \
    X(PQgetvalue)                                                                           \
    X(PQisthreadsafe)                                                                       \
    X(PQlibVersion)                                                                         \
    X(PQnfields)                                                                            \
    X(PQnparams)                                                                            \
    X(PQntuples)                                                                            \
    X(PQprepare)                                                                            \
    X(PQreset)                                                                              \
    X(PQresultErrorField)                                                                   \
    X(PQresultErrorMessage)                                                                 \
    X(PQresultStatus)                                                                       \
    X(PQstatus)                                                                             \
    X(PQtransactionStatus)                                                                  \
    X(PQunescapeBytea)

struct berth_lazy_pq {
    BERTH_LAZY_PQ_SYMS(BERTH_LAZY_FIELD)
};

#ifndef BERTH_LAZY_NO_MAP
#define BERTH_LAZY_PQ ((const struct berth_lazy_pq *)berth_lazy_table(BERTH_LIB_PQ))
#define PQclear (BERTH_LAZY_PQ->PQclear)
#define PQcmdTuples (BERTH_LAZY_PQ->PQcmdTuples)
#define PQconnectdb (BERTH_LAZY_PQ->PQconnectdb)
#define PQdescribePrepared (BERTH_LAZY_PQ->PQdescribePrepared)
#define PQerrorMessage (BERTH_LAZY_PQ->PQerrorMessage)
#define PQexec (BERTH_LAZY_PQ->PQexec)
#define PQexecPrepared (BERTH_LAZY_PQ->PQexecPrepared)
#define PQfinish (BERTH_LAZY_PQ->PQfinish)
#define PQfname (BERTH_LAZY_PQ->PQfname)
#define PQfreemem (BERTH_LAZY_PQ->PQfreemem)
#define PQftype (BERTH_LAZY_PQ->PQftype)
#define PQgetisnull (BERTH_LAZY_PQ->PQgetisnull)
#define PQgetlength (BERTH_LAZY_PQ->PQgetlength)
#define PQgetvalue (BERTH_LAZY_PQ->PQgetvalue)
#define PQisthreadsafe (BERTH_LAZY_PQ->PQisthreadsafe)
#define PQlibVersion (BERTH_LAZY_PQ->PQlibVersion)
#define PQnfields (BERTH_LAZY_PQ->PQnfields)
#define PQnparams (BERTH_LAZY_PQ->PQnparams)
#define PQntuples (BERTH_LAZY_PQ->PQntuples)
#define PQprepare (BERTH_LAZY_PQ->PQprepare)
#define PQreset (BERTH_LAZY_PQ->PQreset)
#define PQresultErrorField (BERTH_LAZY_PQ->PQresultErrorField)
#define PQresultErrorMessage (BERTH_LAZY_PQ->PQresultErrorMessage)
#define PQresultStatus (BERTH_LAZY_PQ->PQresultStatus)
#define PQstatus (BERTH_LAZY_PQ->PQstatus)
#define PQtransactionStatus (BERTH_LAZY_PQ->PQtransactionStatus)
#define PQunescapeBytea (BERTH_LAZY_PQ->PQunescapeBytea)
#endif

#endif
