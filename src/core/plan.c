/* plan.c - the memory planner's item list (see include/kmill/plan.h). */
#include "config.h"
#include <stdio.h>
#include <string.h>

#include "kmill/log.h"
#include "kmill/plan.h"
#include "kmill/size.h"

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void km_plan_init(km_plan *p)
{
    memset(p, 0, sizeof *p);
    km_plan_add(p, "process", KM_MEM_SLACK);
}

void km_plan_add(km_plan *p, const char *what, uint64_t bytes)
{
    if (!bytes)
        return;
    p->total = sat_add(p->total, bytes);
    if (p->n == KM_PLAN_ITEMS) {
        km_plan_item *last = &p->item[KM_PLAN_ITEMS - 1];
        snprintf(last->what, sizeof last->what, "other");
        last->bytes = sat_add(last->bytes, bytes);
        return;
    }
    snprintf(p->item[p->n].what, sizeof p->item[p->n].what, "%s", what);
    p->item[p->n].bytes = bytes;
    p->n++;
}

void km_plan_merge(km_plan *p, const km_plan *q)
{
    for (int i = 0; i < q->n; i++)
        km_plan_add(p, q->item[i].what, q->item[i].bytes);
}

char *km_plan_format(const km_plan *p, char *buf, size_t len)
{
    size_t w = 0;
    buf[0] = 0;
    for (int i = 0; i < p->n && w < len; i++) {
        char b[32];
        int k = snprintf(buf + w, len - w, "%s%s %s", i ? ", " : "", p->item[i].what,
                         km_format_size(p->item[i].bytes, b, sizeof b));
        if (k < 0)
            break;
        w += (size_t)k;
    }
    return buf;
}

int km_plan_check(km_ctx *ctx, const km_plan *p, const char *job)
{
    if (p->total <= ctx->mem_budget)
        return 0;
    char b1[32], b2[32], items[320];
    return km_seterr(&ctx->err, KM_ENOMEM, "--mem %s is too small: %s needs at least %s (%s)",
                     km_format_size(ctx->mem_budget, b1, sizeof b1), job,
                     km_format_size(p->total, b2, sizeof b2),
                     km_plan_format(p, items, sizeof items));
}

void km_plan_log(km_ctx *ctx, const km_plan *p, const char *job)
{
    char b1[32], b2[32], items[320];
    km_verbose(ctx, "plan: %s: %s of --mem %s (%s)", job,
               km_format_size(p->total, b1, sizeof b1),
               km_format_size(ctx->mem_budget, b2, sizeof b2),
               km_plan_format(p, items, sizeof items));
}
