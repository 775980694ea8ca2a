"""Re-encrypt every stored secret with the first key of ZALOHUB_ENCRYPTION_KEYS.

Rotation: put a new key in front of the list (keep the old ones after it), restart,
run this command, then drop the old keys.
"""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import transaction

from zalohub.core.crypto import EncryptedTextField, UnreadableSecret


class Command(BaseCommand):
    help = __doc__

    def handle(self, *args: object, **options: object) -> None:
        rotated = unreadable = 0
        for model in apps.get_models():
            fields = [f for f in model._meta.fields if isinstance(f, EncryptedTextField)]
            if not fields:
                continue
            names = [f.name for f in fields]
            with transaction.atomic():
                for obj in model._default_manager.only("pk", *names).iterator():
                    values = [getattr(obj, name) for name in names]
                    bad = [v for v in values if isinstance(v, UnreadableSecret)]
                    if bad:
                        unreadable += 1
                        self.stderr.write(
                            f"{model._meta.label} #{obj.pk}: a secret cannot be decrypted "
                            "with any configured key; left as it is."
                        )
                        continue
                    # Saving re-encrypts each plaintext with the first (newest) key.
                    obj.save(update_fields=names)
                    rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} row(s); {unreadable} unreadable.")
        if unreadable:
            raise SystemExit(1)
