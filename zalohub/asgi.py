import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zalohub.settings")
# Django runs sync views one at a time per process under ASGI, so no webhook can join
# another's commit: a lingering one would only hold that thread (see ingest_store).
os.environ.setdefault("ZALOHUB_WEBHOOK_BATCH_LINGER_SECONDS", "0")
application = get_asgi_application()
