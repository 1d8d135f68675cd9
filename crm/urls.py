from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from activities import views as activities_views
from crm import views

# 403 and 404 render with the request (navigation for signed-in users); 500 keeps Django's
# handler, which renders templates/500.html with an empty context, so a broken database or
# context processor cannot break the error page too.
handler400 = "crm.views.bad_request"

urlpatterns = [
    # My day is everyone's home page (the activities app owns it; the root URLconf may import any app).
    path("", activities_views.my_day, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("search/", views.search, name="search"),
    path("notifications/", views.notification_list, name="notification-list"),
    path("notifications/bell/", views.notification_bell, name="notification-bell"),
    path("notifications/read-all/", views.notification_mark_all_read, name="notification-read-all"),
    path("notifications/<int:pk>/", views.notification_open, name="notification-open"),
    path("notifications/<int:pk>/read/", views.notification_mark_read, name="notification-read"),
    path("account/preferences/", views.preferences, name="preferences"),
    path("accounts/login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("", include("contacts.urls")),
    path("deals/", include("deals.urls")),
    path("activities/", include("activities.urls")),
    path("reports/", include("reports.urls")),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
