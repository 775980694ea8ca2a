from django.urls import path

from zalohub.events import views

app_name = "events"
urlpatterns = [
    path("zalo/webhook/<str:app_id>/", views.webhook, name="webhook"),
]
