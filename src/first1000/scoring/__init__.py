"""Published scores and standards that harmonisation (derived variables) and the
mechanisms both use: questionnaire scoring (EPDS, PSS-10, Brief Resilience Scale),
INTERGROWTH-21st newborn size and birth outcomes, season terms of a sampling date."""
