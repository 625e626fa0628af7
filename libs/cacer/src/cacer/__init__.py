"""The CACER rules (MASE decree 414/2023, GSE Regole operative, ARERA TIAD) as pure functions."""
