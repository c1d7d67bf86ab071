from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from project import health

urlpatterns = [
    # Health checks first: the process manager, the proxy and deploy/rolling-restart.sh ask them.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("accounts/", include("rooms.account_urls")),
    path("api/", include("rooms.bots.urls")),
    path("", include("rooms.urls")),
]
