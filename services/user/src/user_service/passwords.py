"""Password hashing (argon2id) and the strength policy applied at the door."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

MIN_LENGTH = 10
# The handful of passwords that every credential-stuffing list starts with.
_COMMON = {
    "password", "password1", "password123", "123456789", "1234567890", "qwertyuiop",
    "iloveyou", "admin12345", "welcome123", "passw0rd", "letmein123", "qwerty123",
}  # fmt: skip


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


# Verifying against this keeps a login for an unknown user as slow as one
# for a known user, so response time does not reveal which usernames exist.
DUMMY_HASH = _hasher.hash("not-a-real-password-timing-equaliser")


def weakness(password: str, *, username: str, email: str) -> str | None:
    """Why ``password`` is too weak, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return f"must be at least {MIN_LENGTH} characters"
    if password.lower() in _COMMON:
        return "is one of the most common passwords"
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if classes < 3 and len(password) < 16:
        return "needs three of lower case, upper case, digits and symbols (or 16+ characters)"
    lowered = password.lower()
    for personal in (username.lower(), email.lower().split("@", 1)[0]):
        if len(personal) >= 3 and personal in lowered:
            return "must not contain your username or e-mail name"
    return None
