/* sparse_lr.h - L2-regularised linear classifiers over sparse rows: a
 * softmax regression (one label of k per row) or k independent logistic
 * regressions (any subset of k labels per row), fitted by accelerated
 * gradient descent.
 *
 * The objective is the mean negative log-likelihood plus lambda/2 ||W||^2
 * (biases not penalised). It is minimised with FISTA, step 1/L where L bounds
 * the gradient's Lipschitz constant: 1/2 (softmax) or 1/4 (logistic) times the
 * largest eigenvalue of X'X/n (with the bias column, found by power iteration)
 * plus lambda; the momentum restarts whenever a step goes uphill
 * (O'Donoghue and Candes's gradient test). It stops after max_iter steps or
 * when the largest weight change of a step is under 1e-5.
 *
 * Only the columns that occur in the chosen rows are touched, so a fit over a
 * few thousand rows of a 2^18-column space costs what their non-zeros cost.
 * Nothing is shared between calls: fits may run on several threads at once.
 */
#ifndef TK_SPARSE_LR_H
#define TK_SPARSE_LR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Rows in compressed form: row i's entries are col[start[i] .. start[i+1])
 * and val[...]. Borrowed. */
typedef struct {
   const size_t *start; /* [n_rows + 1] */
   const uint32_t *col;
   const float *val;
   size_t n_rows;
   size_t dim; /* every col is below dim */
} tk_csr_t;

typedef enum {
   TK_LR_SOFTMAX = 0,  /* label[row] in 0 .. k-1 */
   TK_LR_LOGISTIC = 1, /* target[row * k + c] 1 where the row has label c */
} tk_lr_loss_t;

typedef struct {
   tk_lr_loss_t loss;
   size_t k;                    /* labels */
   const uint32_t *label;       /* softmax: [n_rows] */
   const unsigned char *target; /* logistic: [n_rows][k] */
   double lambda;
   unsigned max_iter;
} tk_lr_problem_t;

/* Fits the rows rows[0 .. n) of X (every row when rows is NULL, n then
 * X->n_rows). Writes the weights into w[col * w_stride + c] for every col
 * below X->dim and c below k (columns never seen get 0), and the biases into
 * bias[c]. Returns false if memory runs out. */
bool tk_sparse_lr_fit (const tk_csr_t *X, const size_t *rows, size_t n, const tk_lr_problem_t *p,
                       float *w, size_t w_stride, float *bias);

#endif
