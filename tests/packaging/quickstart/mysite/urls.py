"""The quickstart's URLs: the admin (``/graphql`` is served by rxgraphql's ASGI application)."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
