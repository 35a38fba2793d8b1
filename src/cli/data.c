/* data.c - the DATA argument of train, predict and eval: a .kmx dataset,
 * or CSV (a file or "-") converted on the fly into a temporary dataset in
 * --tmpdir, opened and unlinked at once so nothing is left behind. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "kmill/convert.h"
#include "kmill/log.h"
#include "kmill/outfile.h"

int cli_open_data(km_ctx *ctx, const char *arg, int io, const char *tmpdir, km_pool *pool,
                  km_kmx **out)
{
    /* only a regular file is probed: opening a FIFO twice (probe, then
     * conversion) would lose what its writer sent in between */
    struct stat st;
    if (strcmp(arg, "-") != 0 && stat(arg, &st) == 0 && S_ISREG(st.st_mode) && km_kmx_probe(arg))
        return km_kmx_open(ctx, arg, io, out);
    const char *dir = km_tmpdir(tmpdir);
    size_t dl = strlen(dir);
    char *tmp = malloc(dl + 40);
    if (!tmp)
        return km_seterr(&ctx->err, KM_ENOMEM, "out of memory");
    memcpy(tmp, dir, dl);
    strcpy(tmp + dl, "/.kmill-input-XXXXXX.kmx");
    int fd = mkstemps(tmp, 4); /* reserves the name; the conversion renames over it */
    if (fd < 0) {
        int e = errno;
        free(tmp);
        return km_seterr(&ctx->err, km_errno_code(e), "cannot create a temporary dataset in %s: %s",
                         dir, strerror(e));
    }
    close(fd);
    km_convert_opts co;
    memset(&co, 0, sizeof co);
    co.input = arg;
    co.output = tmp;
    co.pool = pool;
    co.level = 1;
    km_convert_result cr;
    km_verbose(ctx, "converting %s into %s", arg, tmp);
    int rc = km_convert(ctx, &co, &cr);
    if (!rc)
        rc = km_kmx_open(ctx, tmp, io, out);
    unlink(tmp);
    free(tmp);
    return rc;
}
