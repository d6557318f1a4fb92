"""The models of the workflow's analysis stages on analysis tables: associations and
mediation per cohort, pooled and meta-analysed, effect modification and missing data, the
epigenome-wide runs. The statistics themselves are in :mod:`first1000.stats`."""
