/* blas.h - process-wide control of the BLAS library's own threads.
 *
 * kmill runs its parallel loops on its own pool (kmill/pool.h) and calls
 * BLAS inside the workers at one thread each; BLAS's threads would only
 * oversubscribe the cores. These calls set and restore the BLAS thread
 * count around such loops. They are a core concern: every layer that
 * calls BLAS (kern, solve, rfm, model) reaches them without depending on
 * any other module. */
#ifndef KMILL_BLAS_H
#define KMILL_BLAS_H

/* Set the BLAS thread count, returning the previous one for the caller to
 * restore (OpenBLAS; with other BLAS a no-op returning 1). The pool's
 * workers run BLAS at one thread each, so that the cores are not
 * oversubscribed. */
int km_blas_threads(int n);

/* For a process that will not call BLAS: stop OpenBLAS's worker threads,
 * which otherwise spin (sched_yield) for about 0.1 s after the library
 * loads, on the cores the caller's own threads want. OpenBLAS starts them
 * again if BLAS is called after all. A no-op where the library has no
 * such call (detected by configure). */
void km_blas_idle(void);

#endif
