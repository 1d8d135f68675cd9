from django.urls import path

from service import views

app_name = "service"

urlpatterns = [
    path("", views.case_list, name="list"),
    path("new/", views.case_create, name="create"),
    path("contact-options/", views.contact_options, name="contact-options"),
    path("<int:pk>/", views.case_detail, name="detail"),
    path("<int:pk>/edit/", views.case_edit, name="edit"),
    path("<int:pk>/status/", views.case_status, name="status"),
    path("<int:pk>/assign/", views.case_assign, name="assign"),
    path("<int:pk>/reply/", views.case_reply, name="reply"),
    path("survey/<str:token>/", views.survey, name="survey"),
    path("web/<str:key>/", views.web_form, name="web-form"),
]
