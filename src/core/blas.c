/* blas.c - BLAS thread control (see include/kmill/blas.h). The OpenBLAS
 * entry points are found by configure; with another BLAS both calls do
 * nothing. */
#include "config.h"

#include "kmill/blas.h"

int km_blas_threads(int n)
{
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
    extern int openblas_get_num_threads(void);
    extern void openblas_set_num_threads(int);
    int prev = openblas_get_num_threads();
    openblas_set_num_threads(n < 1 ? 1 : n);
    return prev;
#else
    (void)n;
    return 1;
#endif
}

void km_blas_idle(void)
{
#ifdef HAVE_BLAS_THREAD_SHUTDOWN_
    /* OpenBLAS's own fork handler; exec_blas restarts the threads when
     * they are missing */
    extern int blas_thread_shutdown_(void);
    blas_thread_shutdown_();
#endif
}
