/* data.c - the DATA argument of train, predict and eval: a .kmx dataset,
 * or CSV (a file or "-") converted on the fly into a temporary dataset in
 * --tmpdir, opened and unlinked at once so nothing is left behind (and
 * what a killed run leaves, the next one removes). Messages name the
 * user's input (as the conversion does, <stdin> for "-"), never the
 * temporary file. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "kmill/convert.h"
#include "kmill/log.h"
#include "kmill/outfile.h"

/* A failure of the conversion, or of opening its result, whose message
 * names the temporary dataset (a full or read-only --tmpdir, a damaged
 * result): say the user's input and the directory instead, with the
 * reason (the message's last part). */
static void name_input(km_ctx *ctx, int rc, const char *tmp, const char *arg, const char *dir)
{
    const char *base = strrchr(tmp, '/');
    base = base ? base + 1 : tmp;
    if (!strstr(ctx->err.msg, base))
        return;
    char why[KM_ERRMSG_MAX];
    const char *colon = strrchr(ctx->err.msg, ':');
    snprintf(why, sizeof why, "%s", colon ? colon + 2 : ctx->err.msg);
    km_seterr(&ctx->err, rc, "cannot convert %s into a temporary dataset in %s: %s",
              strcmp(arg, "-") == 0 ? "standard input" : arg, dir, why);
}

int cli_open_data(km_ctx *ctx, const char *arg, int io, const char *tmpdir, km_pool *pool,
                  const km_convert_opts *cols, km_convert_result *res, km_kmx **out)
{
    if (res)
        memset(res, 0, sizeof *res);
    /* only a regular file is probed: opening a FIFO twice (probe, then
     * conversion) would lose what its writer sent in between */
    struct stat st;
    if (strcmp(arg, "-") != 0 && stat(arg, &st) == 0 && S_ISREG(st.st_mode) && km_kmx_probe(arg))
        return km_kmx_open(ctx, arg, io, out);
    const char *dir = km_tmpdir(tmpdir);
    /* the name is reserved (mkostemp) and the conversion renames over it;
     * a run killed before the unlink below leaves it, under a name with
     * its pid that the next run's km_tmp_sweep removes */
    char *tmp = km_tmp_name(dir, "kmill-input");
    if (!tmp)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    km_tmp_sweep(dir);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return km_seterr(&ctx->err, km_errno_code(e), "cannot create a temporary dataset in %s: %s",
                         dir, strerror(e));
    }
    close(fd);
    km_convert_opts co;
    memset(&co, 0, sizeof co);
    if (cols)
        co = *cols;
    co.input = arg;
    co.want_forced = res != NULL;
    co.output = tmp;
    co.pool = pool;
    co.level = 1;
    km_convert_result cr;
    km_verbose(ctx, "converting %s into %s", arg, tmp);
    int rc = km_convert(ctx, &co, &cr);
    if (!rc)
        rc = km_kmx_open(ctx, tmp, io, out);
    if (rc) {
        name_input(ctx, rc, tmp, arg, dir);
    } else if ((rc = km_kmx_set_name(*out, strcmp(arg, "-") == 0 ? "<stdin>" : arg))) {
        km_kmx_close(*out);
        *out = NULL;
    }
    if (!rc && res) {
        *res = cr;
    } else {
        free(cr.forced);
    }
    /* what convert says at its end (rows skipped put predictions out of
     * line with the input's) */
    const char *name = strcmp(arg, "-") == 0 ? "<stdin>" : arg;
    if (!rc && cr.blank_lines)
        km_warn(ctx, "%s: skipped %llu blank lines", name, (unsigned long long)cr.blank_lines);
    if (!rc && cr.ragged_rows)
        km_warn(ctx, "%s: %s %llu rows with a wrong number of fields", name,
                co.ragged == KM_RAGGED_SKIP ? "skipped" : "padded",
                (unsigned long long)cr.ragged_rows);
    unlink(tmp);
    free(tmp);
    return rc;
}
