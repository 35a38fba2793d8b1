/* pool.h - a small thread pool running parallel-for jobs.
 *
 * A job is "call fn(arg, i, worker) for i in [0, n)". Jobs are queued in
 * submission order; workers take items from the oldest unfinished job.
 * km_pool_wait lets the calling thread help with queued items (of any job,
 * oldest first) until its job is done, so a pool of T workers plus the
 * caller uses T+1 cores. Items must not wait for other jobs themselves. Submitting
 * and waiting separately lets the caller overlap its own work (parsing the
 * next chunk) with the pool's (compressing the previous one). */
#ifndef KMILL_POOL_H
#define KMILL_POOL_H

#include <stddef.h>

#include "kmill/error.h"

typedef struct km_pool km_pool;
typedef struct km_job km_job;
/* worker: 0 for the calling thread, 1..nworkers for pool threads */
typedef void (*km_task_fn)(void *arg, size_t i, int worker);

/* nworkers may be 0: every job then runs in the thread that waits for it. */
int km_pool_create(km_pool **pool, int nworkers, km_err *e);
void km_pool_destroy(km_pool *pool);
int km_pool_workers(const km_pool *pool);

/* Queue a job; returns NULL only when out of memory. */
km_job *km_pool_submit(km_pool *pool, size_t n, km_task_fn fn, void *arg);
/* Help with queued work until the job is done, then free it. */
void km_pool_wait(km_pool *pool, km_job *job);
/* submit + wait; runs inline if the job cannot be queued. */
void km_pool_run(km_pool *pool, size_t n, km_task_fn fn, void *arg);

#endif
