"""The user service: accounts, credentials, refresh tokens, 2FA secrets, roles."""
