"""A local SMTP sink: every message sent to it is kept in SQLite and can be read back.

Development and tests only. In Kubernetes the mail relay is configuration; nothing of this
package is deployed, and no service imports it (import-linter says so).
"""
