"""Stage 2: each cohort's mapping rules, the composite SES index and Table 1."""
