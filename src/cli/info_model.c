/* info_model.c - `kmill info` on a model file (.kmm, kmill-model(5)): what
 * kind of machine it is, its task, label and classes, kernel, metric,
 * centres, the rows it was trained on, its solver and provenance, as text
 * or JSON. Loading the model checks every section (km_model_load), so
 * --verify adds nothing to the reading: it only says so. */
#include "config.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "kmill/model.h"
#include "kmill/size.h"

static const char *const metric_name[] = {"none", "diagonal", "full"};
static const char *const scale_name[] = {"standard", "min-max", "none"};

/* Made by an RFM search (rather than a plain kernel, or one with a given M). */
static int is_rfm(const km_model *m)
{
    return m->sel && m->rfm_iters > 0;
}

static int is_net(const km_model *m)
{
    return m->kind == KM_MODEL_NET;
}

/* The kernel's JSON fields: its name and bandwidth, null for a
 * dot-product kernel, which has its depth and variances instead. */
static void json_kernel(const km_kernel *k)
{
    printf("\"kernel\":\"%s\",\"bandwidth\":", km_kernel_name(k->type));
    if (km_kernel_radial(k)) {
        cli_json_num(k->bandwidth);
        return;
    }
    printf("null,\"depth\":%d,\"sw2\":", k->depth);
    cli_json_num(k->sw2);
    printf(",\"sb2\":");
    cli_json_num(k->sb2);
}

/* What both forms print beside the model's own fields. */
struct about {
    const char *path;
    uint64_t bytes;
    unsigned major, minor;
    int verify, classify;
    uint32_t num, cat; /* source columns */
};

/* "a string" or null */
static void json_opt_str(const char *s)
{
    if (s)
        cli_json_str(s, strlen(s));
    else
        fputs("null", stdout);
}

static const char *const loss_name[] = {"mse", "xent"};

/* A network's architecture and training (kmill mlp) as "network":{...}. */
static void json_net(const km_model *m)
{
    const km_mlp *n = &m->net;
    printf(",\"network\":{\"depth\":%u,\"widths\":[", n->depth);
    for (uint32_t l = 0; l < n->depth + 2; l++)
        printf("%s%u", l ? "," : "", n->width[l]);
    printf("],\"param\":\"%s\",\"sw2\":", n->param == KM_PARAM_NTK ? "ntk" : "standard");
    cli_json_num(n->sw2);
    printf(",\"sb2\":");
    cli_json_num(n->sb2);
    printf(",\"alpha\":");
    cli_json_num(n->alpha);
    printf(",\"loss\":\"%s\",\"lr\":", loss_name[m->ni.loss]);
    cli_json_num(m->ni.lr);
    printf(",\"epochs\":%u,\"batch\":%llu,\"seed\":%llu,\"train_rows\":%llu,"
           "\"val_rows\":%llu,\"val_metric\":", m->ni.epochs, (unsigned long long)m->ni.batch,
           (unsigned long long)m->ni.seed, (unsigned long long)m->ni.train_rows,
           (unsigned long long)m->ni.val_rows);
    cli_json_num(m->ni.val_metric);
    printf("}");
}

/* The text lines of a network in place of the kernel's. */
static void text_net(const km_model *m, int classify)
{
    const km_mlp *n = &m->net;
    printf("network:    depth %u, widths ", n->depth);
    for (uint32_t l = 0; l < n->depth + 2; l++)
        printf("%s%u", l ? "-" : "", n->width[l]);
    printf(", %s parameterisation, sw2 %g, sb2 %g, alpha %g\n",
           n->param == KM_PARAM_NTK ? "ntk" : "standard", n->sw2, n->sb2, n->alpha);
    printf("training:   %s loss, %s, lr %g, %u epochs, seed %llu\n", loss_name[m->ni.loss],
           m->ni.batch ? "sgd" : "full-batch gradient descent", m->ni.lr, m->ni.epochs,
           (unsigned long long)m->ni.seed);
    printf("rows:       %llu trained on, %llu for validation\n",
           (unsigned long long)m->ni.train_rows, (unsigned long long)m->ni.val_rows);
    if (m->ni.batch)
        printf("batch:      %llu rows\n", (unsigned long long)m->ni.batch);
    printf("train:      %s %.6g, final loss %.6g\n", classify ? "accuracy" : "RMSE",
           m->train_metric, m->residual);
    if (m->ni.val_rows)
        printf("validation: %s %.6g\n", classify ? "accuracy" : "MSE", m->ni.val_metric);
}

static void json_model(const struct about *a, const km_model *m)
{
    const km_features *f = &m->feat;
    int classify = a->classify;
    printf("{\"file\":");
    cli_json_str(a->path, strlen(a->path));
    printf(",\"format\":\"kmm %u.%u\",\"file_bytes\":%llu,\"kind\":\"%s\",\"task\":\"%s\","
           "\"label\":", a->major, a->minor, (unsigned long long)a->bytes,
           is_net(m) ? "network" : is_rfm(m) ? "rfm" : "kernel",
           classify ? "classification" : "regression");
    cli_json_str(f->label, strlen(f->label));
    printf(",\"classes\":[");
    for (uint32_t k = 0; k < f->nclasses; k++) {
        if (k)
            putchar(',');
        cli_json_str(f->classes[k], f->class_len[k]);
    }
    printf("]");
    if (is_net(m)) {
        json_net(m);
        printf(",\"kernel\":null,\"bandwidth\":null,\"reg\":null,\"metric\":null");
    } else {
        printf(",\"network\":null,");
        json_kernel(&m->kernel);
        printf(",\"reg\":");
        cli_json_num(m->reg);
        printf(",\"metric\":\"%s\"", metric_name[m->metric]);
    }
    printf(",\"centres\":%llu,\"features\":%u,\"outputs\":%u,"
           "\"numeric_columns\":%u,\"categorical_columns\":%u,\"scale\":\"%s\",\"solver\":",
           (unsigned long long)m->n, m->d, m->c, a->num, a->cat,
           scale_name[f->scale]);
    json_opt_str(m->solver);
    printf(",\"iterations\":%lld,\"residual\":", (long long)m->iters);
    cli_json_num(m->residual);
    printf(",\"%s\":", classify ? "train_accuracy" : "train_rmse");
    cli_json_num(m->train_metric);
    if (m->sel) {
        printf(",\"selection\":{\"rfm_iterations\":%u,\"best_iteration\":%u,\"diag\":%s,"
               "\"center_grads\":%s,\"agop_samples\":%llu,\"train_rows\":%llu,\"val_rows\":%llu,"
               "\"%s\":", m->rfm_iters, m->best_iter, m->rfm_diag ? "true" : "false",
               m->center_grads ? "true" : "false", (unsigned long long)m->agop_samples,
               (unsigned long long)m->train_rows, (unsigned long long)m->val_rows,
               classify ? "val_accuracy" : "val_mse");
        cli_json_num(m->val_metric);
        printf(",\"refit\":%s,\"folds\":%u}", m->refit ? "true" : "false", m->folds);
    } else {
        printf(",\"selection\":null");
    }
    if (m->nys_rows)
        printf(",\"nystrom\":{\"rows\":%llu,\"passes\":%u}", (unsigned long long)m->nys_rows,
               m->nys_passes);
    else
        printf(",\"nystrom\":null");
    if (m->cal.rows) {
        printf(",\"temperature\":{\"T\":");
        cli_json_num(m->cal.T);
        printf(",\"rows\":%llu,\"log_loss\":", (unsigned long long)m->cal.rows);
        cli_json_num(m->cal.nll);
        printf("}");
    } else {
        printf(",\"temperature\":null");
    }
    printf(",\"provenance\":{\"version\":");
    json_opt_str(m->version);
    printf(",\"command\":");
    json_opt_str(m->command);
    printf(",\"created\":");
    json_opt_str(m->created);
    printf(",\"data\":");
    json_opt_str(m->data_path);
    printf(",\"data_checksum\":\"%08x\"}", m->data_checksum);
    if (a->verify)
        printf(",\"verified\":true");
    printf("}\n");
}

/* What it is: the kind of machine and its metric. */
static void text_kind(const km_model *m)
{
    if (is_net(m))
        printf("kind:       ReLU network (kmill mlp)\n");
    else if (is_rfm(m) && m->metric != KM_METRIC_NONE)
        printf("kind:       Recursive Feature Machine, %s M (iteration %u of %u kept)\n",
               metric_name[m->metric], m->best_iter, m->rfm_iters);
    else if (is_rfm(m))
        printf("kind:       kernel machine: the RFM search of %u iterations kept iteration 0, "
               "the plain kernel\n", m->rfm_iters);
    else if (m->metric != KM_METRIC_NONE)
        printf("kind:       kernel machine with a given %s M\n", metric_name[m->metric]);
    else
        printf("kind:       kernel machine\n");
}

/* The label and, for classification, its classes (the first 20). */
static void text_label(const km_features *f)
{
    printf("label:      %s", f->label);
    if (f->task == KM_TASK_CLASSIFY) {
        printf(" (classes: ");
        for (uint32_t k = 0; k < f->nclasses && k < 20; k++)
            printf("%s%.*s", k ? ", " : "", (int)f->class_len[k], f->classes[k]);
        if (f->nclasses > 20)
            printf(", and %u more", f->nclasses - 20);
        putchar(')');
    }
    putchar('\n');
}

static void text_made(const struct about *a, const km_model *m);

static void text_features(const struct about *a, const km_model *m)
{
    printf("features:   %u, from %u columns (%u numeric, %u categorical), %s scaling\n", m->d,
           m->feat.ncols, a->num, a->cat, scale_name[m->feat.scale]);
}

static void text_model(const struct about *a, const km_model *m)
{
    const km_features *f = &m->feat;
    int classify = a->classify;
    char b[32];
    printf("file:       %s (%s)\n", a->path, km_format_size(a->bytes, b, sizeof b));
    printf("format:     kmm %u.%u\n", a->major, a->minor);
    text_kind(m);
    if (classify)
        printf("task:       classification, %u classes\n", f->nclasses);
    else
        printf("task:       regression\n");
    text_label(f);
    if (is_net(m)) {
        text_features(a, m);
        text_net(m, classify);
        text_made(a, m);
        return;
    }
    char kd[96];
    km_kernel_describe(&m->kernel, kd, sizeof kd);
    printf("kernel:     %s\n", kd);
    printf("ridge:      %g\n", m->reg);
    if (m->metric == KM_METRIC_FULL)
        printf("M:          full, %u x %u\n", m->d, m->d);
    else if (m->metric == KM_METRIC_DIAG)
        printf("M:          diagonal, %u entries\n", m->d);
    else
        printf("M:          none\n");
    text_features(a, m);
    if (m->nys_rows)
        printf("centres:    %llu, Nystrom, drawn from %llu rows (%u passes over the data)\n",
               (unsigned long long)m->n, (unsigned long long)m->nys_rows, m->nys_passes);
    else
        printf("centres:    %llu\n", (unsigned long long)m->n);
    if (m->sel && m->folds)
        printf("rows:       %llu, in %u-fold cross-validation; refitted on all\n",
               (unsigned long long)m->train_rows, m->folds);
    else if (m->sel)
        printf("rows:       %llu trained on, %llu for validation%s\n",
               (unsigned long long)m->train_rows, (unsigned long long)m->val_rows,
               m->refit ? "; refitted on both" : "");
    else
        printf("rows:       %llu trained on\n",
               (unsigned long long)(m->nys_rows ? m->nys_rows : m->n));
    printf("solver:     %s, %lld iterations, relative residual %.2g\n",
           m->solver ? m->solver : "(not recorded)", (long long)m->iters, m->residual);
    printf("training:   %s %.6g\n", classify ? "accuracy" : "RMSE", m->train_metric);
    if (m->sel)
        printf("validation: %s%s %.6g\n", m->folds ? "cross-validated " : "",
               classify ? "accuracy" : "MSE", m->val_metric);
    if (m->cal.rows)
        printf("proba:      softmax temperature %g, fitted on %llu validation rows "
               "(log-loss %.4g)\n", m->cal.T, (unsigned long long)m->cal.rows, m->cal.nll);
    text_made(a, m);
}

/* Provenance, and --verify's line. */
static void text_made(const struct about *a, const km_model *m)
{
    if (m->version)
        printf("made by:    kmill %s, %s\n", m->version, m->created ? m->created : "");
    if (m->command)
        printf("command:    %s\n", m->command);
    if (m->data_path)
        printf("data:       %s (checksum %08x)\n", m->data_path, m->data_checksum);
    if (a->verify)
        printf("verified:   every section's checksum matches and its contents are consistent\n");
}

int cli_info_model(km_ctx *ctx, const char *path, unsigned major, unsigned minor, int json,
                   int verify)
{
    km_model m;
    int rc = km_model_load(ctx, path, &m);
    if (rc)
        return cli_fail(ctx, rc);
    struct stat st;
    struct about a = {path, stat(path, &st) == 0 ? (uint64_t)st.st_size : 0, major, minor,
                      verify, m.feat.task == KM_TASK_CLASSIFY, 0, 0};
    for (uint32_t j = 0; j < m.feat.ncols; j++) {
        if (m.feat.cols[j].type == KM_COL_CATEGORICAL)
            a.cat++;
        else
            a.num++;
    }
    if (json)
        json_model(&a, &m);
    else
        text_model(&a, &m);
    km_model_free(&m);
    return EXIT_OK;
}
