# Reference numbers of R mice on its data set `nhanes` for tests/stats/test_imputation.py.
# Run once (the tests never need R):
#   cd tests/data/reference/mice_nhanes && Rscript mice_nhanes.R
# Writes nhanes.csv (the data, as shipped with mice), mice_nhanes_summary.csv (the means and
# Monte Carlo SEs over the replicates of mice's pooled numbers) and versions.txt; with
# `Rscript mice_nhanes.R replicates` also mice_nhanes_replicates.csv (one row per replicate x
# method x model x term, 850 kB; not kept in the repository).
suppressPackageStartupMessages(library(mice))

REPLICATES <- 500  # independent mice runs per method, seeds 1..REPLICATES
M <- 20            # imputations per run
MAXIT <- 5         # mice's default number of iterations

data(nhanes, package = "mice")
write.csv(nhanes, "nhanes.csv", row.names = FALSE)   # age, bmi, hyp, chl; NA = missing
dat <- nhanes[, c("age", "bmi", "chl")]               # hyp left out (binary; see README)

models <- c("chl ~ age + bmi", "bmi ~ age + chl")
rows <- list()
for (method in c("pmm", "norm.boot")) {
  for (rep in seq_len(REPLICATES)) {
    imp <- mice(dat, m = M, maxit = MAXIT, method = method, seed = rep, printFlag = FALSE)
    stopifnot(identical(unname(imp$method), c("", method, method)))
    for (name in models) {
      fit <- eval(bquote(with(imp, lm(.(str2lang(name))))))
      p <- pool(fit)$pooled
      rows[[length(rows) + 1]] <- data.frame(
        method = method, replicate = rep, model = name, term = as.character(p$term),
        estimate = p$estimate, ubar = p$ubar, b = p$b, t = p$t, dfcom = p$dfcom, df = p$df,
        fmi = p$fmi)
    }
  }
}
reps <- do.call(rbind, rows)
if ("replicates" %in% commandArgs(trailingOnly = TRUE)) {
  write.csv(reps, "mice_nhanes_replicates.csv", row.names = FALSE, quote = FALSE)
}

mc <- function(v) c(mean = mean(v), mcse = sd(v) / sqrt(length(v)))
keys <- unique(reps[, c("method", "model", "term")])
summ <- do.call(rbind, lapply(seq_len(nrow(keys)), function(i) {
  k <- keys[i, ]
  r <- reps[reps$method == k$method & reps$model == k$model & reps$term == k$term, ]
  e <- mc(r$estimate); u <- mc(r$ubar); b <- mc(r$b); t <- mc(r$t)
  data.frame(k, replicates = nrow(r), m = M, maxit = MAXIT,
             estimate = e[["mean"]], estimate_mcse = e[["mcse"]],
             ubar = u[["mean"]], ubar_mcse = u[["mcse"]],
             b = b[["mean"]], b_mcse = b[["mcse"]], t = t[["mean"]], t_mcse = t[["mcse"]])
}))
write.csv(summ, "mice_nhanes_summary.csv", row.names = FALSE, quote = FALSE)
writeLines(c(R.version.string, paste("mice", as.character(packageVersion("mice"))),
             paste("platform", R.version$platform), paste("RNGkind", paste(RNGkind(), collapse = " "))),
           "versions.txt")
