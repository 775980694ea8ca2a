"""Secrets at rest: Fernet encryption with rotatable keys (MultiFernet).

A value that cannot be decrypted (the key was changed without keeping the old one) is
not lost: the field hands back an ``UnreadableSecret`` wrapping the ciphertext, saves it
back unchanged, and ``reveal`` raises a clear ``SecretUnavailable`` where it is used.
"""

import functools
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.signals import setting_changed
from django.db import models
from django.utils.translation import gettext as _


class SecretUnavailable(Exception):
    pass


class UnreadableSecret(str):
    """The ciphertext of a secret that none of the configured keys can decrypt."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UnreadableSecret(...)"


@functools.cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(key) for key in settings.ENCRYPTION_KEYS])


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "ENCRYPTION_KEYS":
        _fernet.cache_clear()


setting_changed.connect(_on_setting_changed)


def encrypt(plaintext: str) -> str:
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(ciphertext: str) -> str:
    try:
        return _fernet().decrypt(ciphertext.encode()).decode()
    except InvalidToken:
        raise SecretUnavailable(
            _(
                "A stored secret cannot be decrypted with the configured encryption keys "
                "(ZALOHUB_ENCRYPTION_KEYS). Restore the key it was written with, or enter "
                "the secret again / re-authorize."
            )
        ) from None


def rotate(ciphertext: str) -> str:
    return _fernet().rotate(ciphertext.encode()).decode()


def reveal(value: str, *, what: str = "secret") -> str:
    """The plaintext of a field value, or SecretUnavailable naming what is unreadable."""
    if isinstance(value, UnreadableSecret):
        raise SecretUnavailable(
            _(
                "The %(what)s cannot be decrypted with the configured encryption keys "
                "(ZALOHUB_ENCRYPTION_KEYS): restore the key it was written with."
            )
            % {"what": what}
        )
    return value


class EncryptedTextField(models.TextField):
    """A text column holding Fernet ciphertext; Python code sees the plaintext."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if not value:
            return value
        try:
            return decrypt(value)
        except SecretUnavailable:
            return UnreadableSecret(value)

    def to_python(self, value: Any) -> Any:
        # Deserialization (loaddata) hands back what value_to_string wrote: ciphertext.
        if isinstance(value, str) and value and not isinstance(value, UnreadableSecret):
            try:
                return decrypt(value)
            except SecretUnavailable:
                return value
        return value

    def value_to_string(self, obj: Any) -> str:
        # Serialization (dumpdata, fixtures) must never write the plaintext out.
        value: Any = self.value_from_object(obj)  # the decrypted text, or UnreadableSecret
        if not value:
            return ""
        if isinstance(value, UnreadableSecret):
            return str.__str__(value)
        return encrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if not value:
            return value
        if isinstance(value, UnreadableSecret):
            return str.__str__(value)  # keep the ciphertext as it was
        return encrypt(value)
