/* pool.c - thread pool of parallel-for jobs (see include/kmill/pool.h).
 *
 * One mutex guards the job queue; items are claimed under it. Items are
 * coarse (a chunk, a tile), so the lock is not contended in practice and
 * the simplicity is worth more than a lock-free queue. */
#include "config.h"
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "kmill/pool.h"

struct km_job {
    km_task_fn fn;
    void *arg;
    size_t n, next, done;
    struct km_job *qnext;
};

struct km_pool {
    pthread_mutex_t mu;
    pthread_cond_t work;   /* signalled when a job is queued or on shutdown */
    pthread_cond_t finish; /* signalled when an item completes */
    km_job *head, *tail;   /* jobs with unclaimed items */
    int nworkers, stop;
    pthread_t *threads;
};

/* Claim one item from the front job; the pool lock is held. */
static km_job *claim(km_pool *p, size_t *item)
{
    km_job *j = p->head;
    if (!j)
        return NULL;
    *item = j->next++;
    if (j->next == j->n) { /* fully claimed: drop from the queue */
        p->head = j->qnext;
        if (!p->head)
            p->tail = NULL;
    }
    return j;
}

static void complete(km_pool *p, km_job *j)
{
    pthread_mutex_lock(&p->mu);
    j->done++;
    if (j->done == j->n)
        pthread_cond_broadcast(&p->finish);
    pthread_mutex_unlock(&p->mu);
}

struct worker_arg {
    km_pool *pool;
    int id;
};

static void *worker_main(void *va)
{
    struct worker_arg *wa = va;
    km_pool *p = wa->pool;
    int id = wa->id;
    free(wa);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        size_t item;
        km_job *j;
        while (!(j = claim(p, &item)) && !p->stop)
            pthread_cond_wait(&p->work, &p->mu);
        if (!j)
            break;
        pthread_mutex_unlock(&p->mu);
        j->fn(j->arg, item, id);
        complete(p, j);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int km_pool_create(km_pool **out, int nworkers, km_err *e)
{
    km_pool *p = calloc(1, sizeof *p);
    if (!p || (nworkers > 0 && !(p->threads = calloc((size_t)nworkers, sizeof *p->threads)))) {
        free(p);
        return km_seterr(e, KM_ENOMEM, "out of memory creating thread pool");
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->finish, NULL);
    /* workers start with every signal blocked (they inherit the mask), so
     * that SIGINT, SIGTERM and the like reach the caller's thread, whose
     * blocking read they interrupt */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (int i = 0; i < nworkers; i++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        if (wa) {
            wa->pool = p;
            wa->id = i + 1;
        }
        if (!wa || pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
            free(wa);
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            km_pool_destroy(p);
            return km_seterr(e, KM_ENOMEM, "cannot start worker thread %d", i + 1);
        }
        p->nworkers++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    *out = p;
    return 0;
}

void km_pool_destroy(km_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->nworkers; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->finish);
    free(p->threads);
    free(p);
}

int km_pool_workers(const km_pool *p)
{
    return p ? p->nworkers : 0;
}

km_job *km_pool_submit(km_pool *p, size_t n, km_task_fn fn, void *arg)
{
    km_job *j = calloc(1, sizeof *j);
    if (!j)
        return NULL;
    j->fn = fn;
    j->arg = arg;
    j->n = n;
    if (n == 0 || !p)
        return j;
    pthread_mutex_lock(&p->mu);
    if (p->tail)
        p->tail->qnext = j;
    else
        p->head = j;
    p->tail = j;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    return j;
}

void km_pool_wait(km_pool *p, km_job *j)
{
    if (!j)
        return;
    if (!p) { /* no pool: run everything here */
        for (size_t i = 0; i < j->n; i++)
            j->fn(j->arg, i, 0);
        free(j);
        return;
    }
    pthread_mutex_lock(&p->mu);
    /* Help while waiting: take items of the oldest queued job, ours or an
     * earlier or later one, so the caller's core is never idle while work
     * is queued (a pipeline keeps several jobs in flight). */
    while (j->done < j->n) {
        size_t item;
        km_job *h = claim(p, &item);
        if (!h) {
            pthread_cond_wait(&p->finish, &p->mu);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        h->fn(h->arg, item, 0);
        pthread_mutex_lock(&p->mu);
        h->done++;
        if (h->done == h->n)
            pthread_cond_broadcast(&p->finish);
    }
    pthread_mutex_unlock(&p->mu);
    free(j);
}

void km_pool_run(km_pool *p, size_t n, km_task_fn fn, void *arg)
{
    km_job *j = km_pool_submit(p, n, fn, arg);
    if (!j) {
        for (size_t i = 0; i < n; i++)
            fn(arg, i, 0);
        return;
    }
    km_pool_wait(p, j);
}
