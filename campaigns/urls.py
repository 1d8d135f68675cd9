from django.urls import path

from campaigns import views

app_name = "campaigns"

urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_create, name="create"),
    path("report/", views.campaign_report, name="report"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/edit/", views.campaign_edit, name="edit"),
    path("<int:pk>/start/", views.campaign_start, name="start"),
    path("<int:pk>/finish/", views.campaign_finish, name="finish"),
    path("<int:pk>/tasks/", views.campaign_tasks, name="tasks"),
    path("<int:pk>/export.csv", views.campaign_export, name="export"),
    path("<int:pk>/responses/", views.campaign_import, name="import"),
    path("<int:pk>/lead-forms/", views.lead_form_create, name="lead-form-create"),
    path("members/<int:pk>/", views.member_detail, name="member"),
    path("members/<int:pk>/response/", views.member_status, name="member-status"),
    path("members/<int:pk>/deal/", views.member_deal, name="member-deal"),
    path("segments/", views.segment_list, name="segment-list"),
    path("segments/new/", views.segment_edit, name="segment-create"),
    path("segments/<int:pk>/", views.segment_edit, name="segment-edit"),
    path("lead/<str:key>/", views.lead_form, name="lead-form"),
]
