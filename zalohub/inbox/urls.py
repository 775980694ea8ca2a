from django.urls import path

from zalohub.inbox import views

app_name = "inbox"
urlpatterns = [
    path("", views.index, name="index"),
    path("list/", views.list_part, name="list"),
    path("events/", views.events, name="events"),
    path("c/<int:pk>/", views.conversation_page, name="conversation"),
    path("c/<int:pk>/thread/", views.thread_part, name="thread"),
    path("c/<int:pk>/reply/", views.reply, name="reply"),
    path("c/<int:pk>/assign/", views.assign, name="assign"),
    path("m/<int:pk>/resend/", views.resend, name="resend"),
    path("m/<int:pk>/image/", views.sent_image, name="sent_image"),
]
