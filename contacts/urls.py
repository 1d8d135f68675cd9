from django.urls import path

from contacts import import_views, views

app_name = "contacts"

urlpatterns = [
    path("companies/", views.company_list_view, name="company-list"),
    path("companies/new/", views.company_create, name="company-create"),
    path("companies/reassign/", views.company_reassign, name="company-reassign"),
    path("companies/options/", views.company_picker_options, name="company-options"),
    path("companies/<int:pk>/", views.company_detail, name="company-detail"),
    path("companies/<int:pk>/edit/", views.company_edit, name="company-edit"),
    path("companies/<int:pk>/archive/", views.company_archive, name="company-archive"),
    path("companies/<int:pk>/restore/", views.company_restore, name="company-restore"),
    path("contacts/", views.contact_list_view, name="contact-list"),
    path("contacts/new/", views.contact_create, name="contact-create"),
    path("contacts/reassign/", views.contact_reassign, name="contact-reassign"),
    path("contacts/options/", views.contact_picker_options, name="contact-options"),
    path("contacts/<int:pk>/", views.contact_detail, name="contact-detail"),
    path("contacts/<int:pk>/edit/", views.contact_edit, name="contact-edit"),
    path("contacts/<int:pk>/archive/", views.contact_archive, name="contact-archive"),
    path("contacts/<int:pk>/restore/", views.contact_restore, name="contact-restore"),
    path("tags/suggest/", views.tag_suggest, name="tag-suggest"),
    path("companies/export.<str:fmt>", views.company_export, name="company-export"),
    path("contacts/export.<str:fmt>", views.contact_export, name="contact-export"),
    path("imports/", import_views.import_list, name="import-list"),
    path("imports/new/", import_views.import_new, name="import-new"),
    path("imports/<int:pk>/", import_views.import_detail, name="import-detail"),
    path("imports/<int:pk>/mapping/", import_views.import_mapping, name="import-mapping"),
    path("imports/<int:pk>/encoding/", import_views.import_encoding, name="import-encoding"),
    path("imports/<int:pk>/progress/", import_views.import_progress, name="import-progress"),
    path("imports/<int:pk>/confirm/", import_views.import_confirm, name="import-confirm"),
    path("imports/<int:pk>/retry/", import_views.import_retry, name="import-retry"),
    path("imports/<int:pk>/errors.csv", import_views.import_errors_csv, name="import-errors"),
    path("duplicates/", views.duplicate_list, name="duplicates"),
    path("duplicates/refresh/", views.duplicates_refresh_now, name="duplicates-refresh"),
    path("duplicates/<int:pk>/dismiss/", views.duplicate_dismiss, name="duplicate-dismiss"),
    path("companies/<int:pk>/merge/<int:other>/", views.company_merge, name="company-merge"),
    path("contacts/<int:pk>/merge/<int:other>/", views.contact_merge, name="contact-merge"),
    path("merges/<int:pk>/undo/", views.merge_undo_view, name="merge-undo"),
    path("data-quality/", views.data_quality_view, name="data-quality"),
]
