# R mice on the data sets of benchmarks/imputation_coverage.py (run once; see README.md):
#   PYTHONPATH=src python tests/data/reference/mice_coverage/export_data.py
#   cd tests/data/reference/mice_coverage && Rscript mice_coverage.R
suppressPackageStartupMessages(library(mice))
d <- read.csv("data.csv")
out <- list()
for (method in c("pmm", "norm.boot")) for (r in 0:199) {
  dat <- d[d$rep == r, c("y", "x", "c", "a")]
  imp <- mice(dat, m = 20, maxit = 10, method = method, seed = r + 1, printFlag = FALSE)
  p <- summary(pool(with(imp, lm(y ~ x + c))), conf.int = TRUE)
  i <- which(p$term == "x")
  out[[length(out) + 1]] <- data.frame(method = method, rep = r, est = p$estimate[i], se = p$std.error[i],
                                       lo = p[i, "2.5 %"], hi = p[i, "97.5 %"])
}
o <- do.call(rbind, out)
write.csv(o, "mice_coverage_runs.csv", row.names = FALSE)
print(aggregate(cbind(est, se, covered = (lo <= 0.5 & hi >= 0.5)) ~ method, o, mean))
print(aggregate(est ~ method, o, sd))
