from django.urls import path

from activities import views

app_name = "activities"

urlpatterns = [
    path("", views.activity_list, name="list"),
    path("log/", views.activity_log, name="log"),
    path("my-day/", views.my_day, name="my-day"),
    path("calendar/", views.calendar_view, name="calendar"),
    path("calendar/new-link/", views.calendar_feed_regenerate, name="calendar-feed-regenerate"),
    path("calendar/<str:token>.ics", views.calendar_ics, name="ics"),
    path("timeline/<str:kind>/<int:pk>/", views.timeline, name="timeline"),
    path("<int:pk>/", views.activity_detail, name="detail"),
    path("<int:pk>/edit/", views.activity_edit, name="edit"),
    path("<int:pk>/delete/", views.activity_delete, name="delete"),
    path("<int:pk>/done/", views.activity_toggle_done, name="toggle-done"),
    path("<int:pk>/reschedule/", views.activity_reschedule, name="reschedule"),
    path("<int:pk>/reminders/", views.reminder_add, name="reminder-add"),
    path("reminders/<int:pk>/cancel/", views.reminder_cancel, name="reminder-cancel"),
]
