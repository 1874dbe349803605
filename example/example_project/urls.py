"""URL routes handled by Django (rxgraphql serves /graphql): the admin, the sign-in API, the browser app."""

from django.contrib import admin
from django.urls import path

from example_project.views import TokenLogin, frontend_asset, home, me

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/token/", TokenLogin.as_view(), name="api-token"),
    path("api/me/", me, name="api-me"),
    path("assets/<path:path>", frontend_asset, name="frontend-asset"),
    path("chat/<int:room_id>", home, name="chat"),
    path("board/<int:board_id>", home, name="board"),
    path("", home, name="home"),
]
