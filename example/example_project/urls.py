"""URL routes handled by Django: the admin and a landing page (rxgraphql serves /graphql)."""

from django.contrib import admin
from django.urls import path

from example_project.views import home

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", home, name="home"),
]
