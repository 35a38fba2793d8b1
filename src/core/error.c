/* error.c - the error record (see include/kmill/error.h). */
#include "config.h"
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kmill/error.h"

int km_seterr(km_err *e, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
        /* a message is one line: fold any newline that came from data */
        for (char *p = e->msg; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        e->code = code;
    }
    return code;
}

int km_errno_code(int errnum)
{
    switch (errnum) {
    case ENOSPC:
    case EDQUOT:
        return KM_ENOSPC;
    case ENOMEM:
        return KM_ENOMEM;
    case EINTR:
        return KM_EINTR;
    case EPIPE:
        return KM_EPIPE;
    default:
        return KM_EIO;
    }
}

const char *km_strerror(int code)
{
    switch (code) {
    case KM_OK: return "success";
    case KM_EINVAL: return "invalid argument";
    case KM_EDATA: return "the data does not suit the task";
    case KM_ENOMEM: return "out of memory";
    case KM_EIO: return "input/output error";
    case KM_EPARSE: return "parse error";
    case KM_EFORMAT: return "unsupported or unrecognised file format";
    case KM_ECORRUPT: return "corrupt file";
    case KM_ENOSPC: return "no space left on device";
    case KM_ELIMIT: return "limit exceeded";
    case KM_EINTR: return "interrupted";
    case KM_ENUMERIC: return "numerical failure";
    case KM_EPIPE: return "broken pipe";
    default: return "unknown error";
    }
}

void km_clearerr(km_err *e)
{
    e->code = 0;
    e->msg[0] = '\0';
}
