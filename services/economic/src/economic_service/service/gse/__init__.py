"""The referente's side of the GSE: the HTTP client (retries, circuit breaker),
the sync of a community (register, submit, pull), the schedule worker, and the
import of the GSE's statements as files."""
