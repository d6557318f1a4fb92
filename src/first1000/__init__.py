"""first1000: perinatal cohort analyses from SES and maternal mood to child outcomes."""

__version__ = "0.2.0"
