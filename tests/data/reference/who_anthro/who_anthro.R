# WHO anthro z-scores of inputs.csv (run once; see README.md). Output: reference.csv
suppressMessages(library(anthro))
d <- read.csv("inputs.csv", stringsAsFactors = FALSE, na.strings = "")
z <- anthro_zscores(sex = ifelse(d$sex == "male", 1L, 2L), age = d$age_days, is_age_in_month = FALSE,
                    weight = d$weight_kg, lenhei = d$length_cm, measure = d$measure, headc = d$head_cm)
out <- data.frame(clenhei = z$clenhei, cbmi = z$cbmi, zwei = z$zwei, fwei = z$fwei, zlen = z$zlen,
                  flen = z$flen, zwfl = z$zwfl, fwfl = z$fwfl, zbmi = z$zbmi, fbmi = z$fbmi, zhc = z$zhc,
                  fhc = z$fhc)
write.csv(out, "reference.csv", row.names = FALSE)
cat(sprintf("anthro %s, %s\n", as.character(packageVersion("anthro")), R.version.string))
