# Reference numbers for first1000.stats.regression.firth_logit and
# first1000.stats.bootstrap.batched_firth (Firth-penalised logistic regression).
#
# Run once from this directory:  Rscript firth_reference.R
# Writes endometrial.csv, separated.csv (the data) and firth_reference.csv (the numbers),
# and versions.txt (R and package versions). The tests never need R.
#
# brglm2's type = "AS_mean" (mean bias-reducing adjusted score) is, for the canonical
# logit link, exactly Firth's (1993) Jeffreys-prior penalised likelihood, i.e. the
# estimator of R logistf (Heinze & Schemper 2002). logistf itself is not packaged for
# Debian 12; brglm (the older package, Firth's pl = FALSE adjusted score) is used as a
# second, independent implementation.
suppressPackageStartupMessages({
  library(brglm2)
  library(brglm)
})

fit_both <- function(formula, data, name, weights = NULL) {
  ctrl <- brglm2::brglm_control(epsilon = 1e-12, maxit = 500, type = "AS_mean")
  if (is.null(weights)) {
    f2 <- glm(formula, family = binomial("logit"), data = data, method = "brglm_fit",
              control = ctrl)
    f1 <- brglm::brglm(formula, family = binomial("logit"), data = data,
                       control.brglm = brglm::brglm.control(br.epsilon = 1e-12, br.maxit = 500))
  } else {
    data$w__ <- weights
    f2 <- glm(formula, family = binomial("logit"), data = data, weights = w__,
              method = "brglm_fit", control = ctrl)
    f1 <- brglm::brglm(formula, family = binomial("logit"), data = data, weights = w__,
                       control.brglm = brglm::brglm.control(br.epsilon = 1e-12, br.maxit = 500))
  }
  s2 <- summary(f2)$coefficients
  s1 <- summary(f1)$coefficients
  stopifnot(max(abs(s1[, 1] - s2[, 1])) < 1e-6, max(abs(s1[, 2] - s2[, 2])) < 1e-6)
  data.frame(dataset = name, term = rownames(s2), estimate = s2[, 1], se = s2[, 2],
             estimate_brglm = s1[, 1], se_brglm = s1[, 2], row.names = NULL)
}

# 1. Endometrial cancer data (Heinze & Schemper 2002, their example; quasi-complete
#    separation by NV), shipped with brglm2.
data("endometrial", package = "brglm2")
write.csv(endometrial, "endometrial.csv", row.names = FALSE)
ref1 <- fit_both(HG ~ NV + PI + EH, endometrial, "endometrial")

# 2. A simulated data set with complete separation by a binary covariate and integer case
#    weights 0..3 (the weighted fit equals the fit on the duplicated rows).
set.seed(20261202)
n <- 60
x <- round(rnorm(n), 4)
z <- rbinom(n, 1, 0.3)
y <- rbinom(n, 1, plogis(-0.5 + 0.8 * x))
y[z == 1] <- 1L                     # every z = 1 row is an event: separation
w <- sample(0:3, n, replace = TRUE)
sep <- data.frame(y = y, x = x, z = z, w = w)
write.csv(sep, "separated.csv", row.names = FALSE)
ref2 <- fit_both(y ~ x + z, sep, "separated")
ref3 <- fit_both(y ~ x + z, sep, "separated_weighted", weights = sep$w)

out <- rbind(ref1, ref2, ref3)
write.csv(format(out, digits = 15), "firth_reference.csv", row.names = FALSE, quote = FALSE)
writeLines(c(R.version.string,
             paste("brglm2", as.character(packageVersion("brglm2"))),
             paste("brglm", as.character(packageVersion("brglm")))), "versions.txt")
print(out, digits = 10)
