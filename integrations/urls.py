from django.contrib.auth.decorators import login_not_required, login_required
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from integrations import api, views

app_name = "integrations"

# The JSON API, mounted at /api/v1/ by crm/urls.py.
api_urlpatterns = [
    path("schema/", login_not_required(SpectacularAPIView.as_view()), name="schema"),
    # Swagger UI from installed static files; its start-up script is a separate request
    # (no inline script), so the page runs under the site's strict CSP.
    # A page for people: anonymous visitors go to the sign-in form (DRF views skip that redirect).
    path(
        "docs/",
        login_required(
            SpectacularSwaggerSplitView.as_view(
                url_name="api:schema", template_name="integrations/swagger_ui.html", title="CRM API"
            )
        ),
        name="docs",
    ),
    path("companies/", api.companies, name="companies"),
    path("companies/<int:pk>/", api.company, name="company"),
    path("companies/<int:pk>/archive/", api.company_archive, name="company-archive"),
    path("companies/<int:pk>/profitability/", api.company_profitability, name="company-profitability"),
    path("companies/<int:pk>/restore/", api.company_restore, name="company-restore"),
    path("contacts/", api.contacts, name="contacts"),
    path("contacts/<int:pk>/", api.contact, name="contact"),
    path("contacts/<int:pk>/archive/", api.contact_archive, name="contact-archive"),
    path("contacts/<int:pk>/restore/", api.contact_restore, name="contact-restore"),
    path("deals/", api.deals, name="deals"),
    path("deals/<int:pk>/", api.deal, name="deal"),
    path("deals/<int:pk>/move/", api.deal_move, name="deal-move"),
    path("activities/", api.activities, name="activities"),
    path("activities/<int:pk>/", api.activity, name="activity"),
    path("notes/", api.notes, name="notes"),
    path("notes/<int:pk>/", api.note, name="note"),
    path("events", api.events, name="events"),
    path("email/inbound", api.email_inbound, name="email-inbound"),
]

# Pages: API tokens in Preferences.
urlpatterns = [
    path("", views.token_list, name="token-list"),
    path("new/", views.token_create, name="token-create"),
    path("<int:pk>/revoke/", views.token_revoke, name="token-revoke"),
    path("capture-address/", views.capture_address_new, name="capture-address-new"),
]

# The Unmatched events page, mounted at /events/unmatched/ by crm/urls.py.
event_urlpatterns = [
    path("", views.unmatched_events, name="unmatched"),
    path("<int:pk>/link/", views.unmatched_event_link, name="unmatched-link"),
    path("emails/<int:pk>/link/", views.unmatched_email_link, name="unmatched-email-link"),
    path("<int:pk>/create-company/", views.unmatched_event_create_company, name="unmatched-create-company"),
]
