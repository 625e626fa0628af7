"""A report as a document (sections of facts, charts and tables with typed
cells) and its renderings: PDF, CSV, XLSX. Pure: no I/O but the bytes out."""
