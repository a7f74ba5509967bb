/* calibration.h - temperature scaling: the one number T per field that makes
 * softmax(logits / T) (or sigmoid(logit / T) for topic tags) fit a labelled
 * calibration set best (lowest negative log-likelihood). T > 1 softens an
 * over-confident model, T < 1 sharpens a timid one; the chosen label never
 * changes, only its probability. Searched by golden section on log T over
 * [0.05, 20]. Pure functions: any thread may call them. */
#ifndef TK_CALIBRATION_H
#define TK_CALIBRATION_H

#include <stddef.h>
#include <stdint.h>

/* logits[n][k], y[n] the true label of each. */
double tk_calibrate_softmax (const double *logits, const uint32_t *y, size_t n, size_t k);

/* logits[n] log-odds of independent binary decisions, y[n] 0 or 1. */
double tk_calibrate_binary (const double *logits, const unsigned char *y, size_t n);

/* Mean negative log-likelihoods at temperature t (what the fits minimise). */
double tk_nll_softmax (const double *logits, const uint32_t *y, size_t n, size_t k, double t);
double tk_nll_binary (const double *logits, const unsigned char *y, size_t n, double t);

#endif
