from django.urls import path

from zalohub.inbox import offer_views, report_views, team_views, views

app_name = "inbox"
urlpatterns = [
    path("", views.index, name="index"),
    path("list/", views.list_part, name="list"),
    path("events/", views.events, name="events"),
    path("c/<int:pk>/", views.conversation_page, name="conversation"),
    path("c/<int:pk>/thread/", views.thread_part, name="thread"),
    path("c/<int:pk>/reply/", views.reply, name="reply"),
    path("c/<int:pk>/offer/", offer_views.offer_send, name="offer_send"),
    path("c/<int:pk>/assign/", views.assign, name="assign"),
    path("c/<int:pk>/status/", team_views.status, name="status"),
    path("c/<int:pk>/note/", team_views.note, name="note"),
    path("c/<int:pk>/labels/", team_views.labels, name="labels"),
    path("resolve-selected/", team_views.resolve_selected, name="resolve_selected"),
    path("away/", team_views.away, name="away"),
    path("reports/", report_views.report_page, name="reports"),
    path("m/<int:pk>/resend/", views.resend, name="resend"),
    path("m/<int:pk>/image/", views.sent_image, name="sent_image"),
]
