from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PartnersConfig(AppConfig):
    name = "zalohub.partners"
    label = "partners"
    verbose_name = _("Partners")

    def ready(self) -> None:
        from zalohub.partners import tasks  # noqa: F401  (periodic jobs)
