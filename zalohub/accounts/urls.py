from django.urls import path

from zalohub.accounts import views

app_name = "accounts"
urlpatterns = [
    path("zalo/oauth/<str:app_id>/callback/", views.oauth_callback, name="oauth_callback"),
]
