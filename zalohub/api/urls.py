from django.urls import path

from zalohub.api.v1 import api

urlpatterns = [path("api/v1/", api.urls)]
