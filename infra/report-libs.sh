#!/usr/bin/env bash
# The system libraries the reporting service renders with: Pango (and its
# FreeType backend) for weasyprint's PDFs, fonts for their text, and poppler's
# pdftoppm, with which the tests turn a report page into a picture. Debian
# packages, installed when missing (safe to run twice). Called by make install.
set -euo pipefail
COMPONENT=report-libs
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_apt libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core poppler-utils
