"""Replay in the admin of a lane's rows: the lane is found by the admin's model in the
pipeline's registry (``lanes.lane_of``), and a replay is that lane's ``again`` through its
one way in (``lanes.replay``), whatever the lane. The admin gets an action on the
selected rows and a button on a row's page, ``<pk>/replay/`` named
``<app>_<model>_replay``, which answers on the copy's page."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from zalohub.events.outbound import lanes


class ReplayMixin:
    """For a ``ModelAdmin`` whose model is a registered lane's rows (put it first among
    the bases). ``replayed(count)`` says what was queued; override it to name the rows."""

    model: type[Model]
    admin_site: admin.AdminSite
    actions: Any = ["replay_selected"]

    def lane(self) -> lanes.Lane:
        lane = lanes.lane_of(self.model)
        if lane is None or lane.again is None:
            raise ImproperlyConfigured(f"{self.model.__name__} rows are no lane's to replay")
        return lane

    def replayed(self, count: int) -> str:
        return ngettext("%(count)s row queued again.", "%(count)s rows queued again.", count) % {
            "count": count
        }

    @admin.action(
        description=gettext_lazy("Replay the selected %(verbose_name_plural)s"),
        permissions=["change"],
    )
    def replay_selected(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        copies = lanes.replay(self.lane(), queryset)
        messages.success(request, self.replayed(len(copies)))

    def get_urls(self) -> list[URLPattern]:
        meta = self.model._meta
        name = f"{meta.app_label}_{meta.model_name}_replay"
        view = self.admin_site.admin_view(self.replay_view)
        return [path("<int:pk>/replay/", view, name=name), *super().get_urls()]  # type: ignore[misc]

    def replay_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        row = get_object_or_404(self.model, pk=pk)
        if not self.has_change_permission(request, row):  # type: ignore[attr-defined]
            raise PermissionDenied
        (copy,) = lanes.replay(self.lane(), [row])
        messages.success(request, _("Replay queued (%(id)s).") % {"id": copy})
        meta = self.model._meta
        change = f"admin:{meta.app_label}_{meta.model_name}_change"
        return HttpResponseRedirect(reverse(change, args=[copy.pk]))
