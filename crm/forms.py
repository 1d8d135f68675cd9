from django import forms

from crm.models import User


class PreferencesForm(forms.ModelForm):
    class Meta:
        model = User
        fields = ["first_name", "last_name", "email", "email_reminders", "daily_digest"]
