from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("rooms.account_urls")),
    path("api/", include("rooms.bots.urls")),
    path("", include("rooms.urls")),
]
