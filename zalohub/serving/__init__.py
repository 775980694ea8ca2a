"""The web tier: one ASGI application in front of Django's two handlers (``front``), the
WSGI bridge it runs pages and webhooks on (``bridge``), and `zalohub serve` (``command``)."""
