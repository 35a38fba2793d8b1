/* size.c - size parsing and the default memory budget (see kmill/size.h). */
#include "config.h"
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "kmill/size.h"

int km_parse_size(const char *s, uint64_t *out, km_err *e)
{
    const char *p = s;
    double v = 0;
    int digits = 0;

    /* A hand-rolled decimal reader: strtod would accept "inf", hex and a
     * locale-dependent decimal point, none of which belong in a size. */
    while (isdigit((unsigned char)*p)) {
        v = v * 10 + (*p++ - '0');
        digits++;
    }
    if (*p == '.') {
        double scale = 0.1;
        p++;
        while (isdigit((unsigned char)*p)) {
            v += (*p++ - '0') * scale;
            scale /= 10;
            digits++;
        }
    }
    if (!digits)
        return km_seterr(e, KM_EINVAL, "invalid size '%s' (expected e.g. 512M, 4G, 50%%)", s);
    while (*p == ' ')
        p++;

    double mult = 1;
    if (*p == '%') {
        uint64_t phys = km_physical_mem();
        if (!phys)
            return km_seterr(e, KM_EINVAL, "size '%s': physical memory size unknown", s);
        if (v > 100)
            return km_seterr(e, KM_EINVAL, "invalid size '%s': more than 100%%", s);
        mult = phys / 100.0;
        p++;
    } else if (*p) {
        static const char units[] = "KMGTP";
        const char *u = strchr(units, toupper((unsigned char)*p));
        if (u) {
            mult = ldexp(1.0, 10 * (int)(u - units + 1));
            p++;
            if (strcasecmp(p, "iB") == 0)
                p += 2;
            else if (strcasecmp(p, "B") == 0)
                p += 1;
        } else if (toupper((unsigned char)*p) == 'B') {
            p++;
        }
    }
    if (*p)
        return km_seterr(e, KM_EINVAL, "invalid size '%s' (expected e.g. 512M, 4G, 50%%)", s);
    double bytes = v * mult;
    if (bytes >= 18446744073709551615.0)
        return km_seterr(e, KM_EINVAL, "size '%s' is too large", s);
    *out = (uint64_t)bytes;
    return 0;
}

static uint64_t cgroup_limit(void)
{
    FILE *f = fopen("/sys/fs/cgroup/memory.max", "r");
    if (!f)
        return 0;
    char buf[64];
    uint64_t lim = 0;
    if (fgets(buf, sizeof buf, f) && isdigit((unsigned char)buf[0]))
        lim = strtoull(buf, NULL, 10);
    fclose(f);
    return lim;
}

uint64_t km_physical_mem(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
    uint64_t phys = (pages > 0 && psize > 0) ? (uint64_t)pages * (uint64_t)psize : 0;
    uint64_t lim = cgroup_limit();
    if (lim && (!phys || lim < phys))
        phys = lim;
    return phys;
}

uint64_t km_default_mem(void)
{
    uint64_t phys = km_physical_mem();
    return phys ? phys / 2 : (uint64_t)1 << 30;
}

char *km_format_size(uint64_t bytes, char *buf, size_t len)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, len, "%llu B", (unsigned long long)bytes);
    else
        snprintf(buf, len, "%.*f %s", v < 10 ? 2 : v < 100 ? 1 : 0, v, units[u]);
    return buf;
}
