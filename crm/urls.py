from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as django_auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.generic import RedirectView

from activities import views as activities_views
from crm import auth_views, views
from integrations import urls as integrations_urls

# 403 and 404 render with the request (navigation for signed-in users); 500 keeps Django's
# handler, which renders templates/500.html with an empty context, so a broken database or
# context processor cannot break the error page too.
handler400 = "crm.views.bad_request"

urlpatterns = [
    # My day is everyone's home page (the activities app owns it; the root URLconf may import any app).
    path("", activities_views.my_day, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("search/", views.search, name="search"),
    path("notifications/", views.notification_list, name="notification-list"),
    path("notifications/bell/", views.notification_bell, name="notification-bell"),
    path("notifications/read-all/", views.notification_mark_all_read, name="notification-read-all"),
    path("notifications/<int:pk>/", views.notification_open, name="notification-open"),
    path("notifications/<int:pk>/read/", views.notification_mark_read, name="notification-read"),
    path("bulk/<str:kind>/", views.bulk_apply, name="bulk-apply"),
    path("bulk/jobs/<int:pk>/", views.bulk_status, name="bulk-status"),
    path("bulk/jobs/<int:pk>/undo/", views.bulk_undo, name="bulk-undo"),
    path("account/preferences/", views.preferences, name="preferences"),
    path("settings/custom-fields/", views.custom_field_list, name="custom-field-list"),
    path("settings/custom-fields/new/", views.custom_field_edit, name="custom-field-create"),
    path("settings/custom-fields/<int:pk>/", views.custom_field_edit, name="custom-field-edit"),
    path("views/save/", views.saved_view_save, name="saved-view-save"),
    path("views/<int:pk>/delete/", views.saved_view_delete, name="saved-view-delete"),
    path("account/language/", views.language_set, name="language-set"),
    # Sign-in and passwords (crm.auth_views): Django's views, with throttling, the second
    # factor and the security log.
    path("accounts/login/", auth_views.sign_in, name="login"),
    path("accounts/login/code/", auth_views.sign_in_code, name="login-code"),
    path("accounts/logout/", django_auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "accounts/password_change/done/",
        django_auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("accounts/password_reset/", auth_views.password_reset, name="password_reset"),
    path(
        "accounts/password_reset/done/", django_auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"
    ),
    path(
        "accounts/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("accounts/reset/done/", django_auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("account/two-factor/", auth_views.two_factor, name="two-factor"),
    path("account/two-factor/setup/", auth_views.two_factor_setup, name="two-factor-setup"),
    path("account/two-factor/confirm/", auth_views.two_factor_confirm, name="two-factor-confirm"),
    path("account/two-factor/verify/", auth_views.two_factor_verify_session, name="two-factor-verify"),
    path("account/two-factor/recovery-codes/", auth_views.two_factor_recovery_codes, name="two-factor-recovery-codes"),
    path("account/two-factor/disable/", auth_views.two_factor_disable, name="two-factor-disable"),
    path("account/sign-out-everywhere/", auth_views.sign_out_everywhere, name="sign-out-everywhere"),
    # Django admin signs in through the CRM's form (throttled, with the second factor).
    path("admin/login/", login_not_required(RedirectView.as_view(pattern_name="login", query_string=True))),
    path("admin/", admin.site.urls),
    path("", include("contacts.urls")),
    path("deals/", include("deals.urls")),
    path("activities/", include("activities.urls")),
    path("cases/", include("service.urls")),
    path("campaigns/", include("campaigns.urls")),
    path("reports/", include("reports.urls")),
    # REST API and personal API tokens (the integrations app, last in the import order).
    path("api/v1/", include((integrations_urls.api_urlpatterns, "api"))),
    path("account/api-tokens/", include("integrations.urls")),
    path("events/unmatched/", include((integrations_urls.event_urlpatterns, "events"))),
]

if settings.DEBUG:
    from django.contrib.staticfiles.urls import staticfiles_urlpatterns

    urlpatterns += staticfiles_urlpatterns()
