from django.contrib import admin
from django.urls import include, path

from webapp import health

urlpatterns = [
    # HealthCheckMiddleware answers GET/HEAD on these first (before host checks); the routes
    # name them and answer other methods with 405.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # First: the annotation loop's API calls resolve without trying every page's pattern.
    path("api/v1/", include("webapp.api_urls")),
    path("", include("annotation.urls")),
    path("dashboard/", include("annotation.dashboard.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
]

handler404 = "webapp.errors.not_found"
