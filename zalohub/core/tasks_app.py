"""django-tasks-db's app under a name staff read in their language: its own is a plain
English string. (A module of its own: a second AppConfig in core/apps.py would stop
Django from choosing CoreConfig for zalohub.core.)"""

from django.utils.translation import gettext_lazy as _
from django_tasks_db.apps import TasksAppConfig


class TasksDbConfig(TasksAppConfig):
    # django-tasks-db declares a plain str; Django reads any lazy string here.
    verbose_name = _("Background tasks")  # type: ignore[assignment]
