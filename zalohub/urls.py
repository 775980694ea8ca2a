from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from zalohub.core import metrics, probes
from zalohub.core.favicon import favicon

admin.site.site_header = "zalohub"
admin.site.site_title = "zalohub"
admin.site.index_title = "zalohub"

urlpatterns = [
    # First: Zalo's webhooks are most of the requests a hub answers, and each pattern
    # before theirs is one more to try on every one of them.
    path("", include("zalohub.events.urls")),
    # Probes and metrics: cheap, before the admin's patterns.
    path("healthz", probes.healthz, name="healthz"),
    path("readyz", probes.readyz, name="readyz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("favicon.ico", favicon, name="favicon"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("inbox/", include("zalohub.inbox.urls")),
    path("", include("zalohub.api.urls")),
    path("", include("zalohub.accounts.urls")),
]
