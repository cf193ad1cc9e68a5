/* err.c - the error code table's accessors, berth_err formatting and failed assertions. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "err.h"
#include "log.h"
#include "banned.h"

struct rc_row {
    const char *name;
    const char *text;
    int status;
    const char *ocicode;
};

static const struct rc_row rc_rows[] = {
#define ROW(name, text, status, code) {#name, text, status, code},
    BERTH_RC_MAP(ROW)
#undef ROW
};

static const struct rc_row *row(enum berth_rc rc)
{
    if ((unsigned)rc >= BERTH_RC_COUNT) return &rc_rows[BERTH_EINTERNAL];
    return &rc_rows[rc];
}

const char *berth_rc_name(enum berth_rc rc) { return row(rc)->name; }
const char *berth_rc_text(enum berth_rc rc) { return row(rc)->text; }
const char *berth_rc_ocicode(enum berth_rc rc) { return row(rc)->ocicode; }
int berth_rc_status(enum berth_rc rc) { return row(rc)->status; }

enum berth_rc berth_err_set(struct berth_err *err, enum berth_rc code, const char *fmt, ...)
{
    va_list ap;

    if (!err) return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

enum berth_rc berth_err_sys(struct berth_err *err, enum berth_rc code, int errnum, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    if (!err) return code;
    err->code = code;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    n = strlen(err->msg);
    snprintf(err->msg + n, sizeof(err->msg) - n, ": %s", strerror(errnum));
    return code;
}

void berth_err_clear(struct berth_err *err)
{
    if (!err) return;
    err->code = BERTH_OK;
    err->msg[0] = '\0';
}

const char *berth_err_msg(const struct berth_err *err)
{
    if (err->msg[0]) return err->msg;
    return berth_rc_text(err->code);
}

void berth_assert_fail(const char *file, int line, const char *expr)
{
    /* written whatever the log level: the process is about to die */
    berth_log_write(BERTH_LOG_ERROR, "msg=\"assertion failed\" file=%s line=%d expr=\"%s\"", file, line, expr);
    abort();
}
