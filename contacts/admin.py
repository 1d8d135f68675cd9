from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from contacts import services
from contacts.forms import BirthDateField
from contacts.models import Company, Contact, ImportJob, MatchParameters, MergeRecord, Tag
from contacts.normalize import normalize_postcode
from crm.admin import StrictHistoryAdmin
from crm.versioning import VersionedAdminForm


class ArchivedFilter(admin.SimpleListFilter):
    title = _("status")
    parameter_name = "archived"

    def lookups(self, request, model_admin):
        return [("no", _("Active")), ("yes", _("Archived"))]

    def queryset(self, request, queryset):
        if self.value() == "no":
            return queryset.filter(archived_at__isnull=True)
        if self.value() == "yes":
            return queryset.filter(archived_at__isnull=False)
        return queryset


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]


class CompanyAdminForm(VersionedAdminForm):
    class Meta:
        model = Company
        fields = "__all__"


@admin.register(Company)
class CompanyAdmin(StrictHistoryAdmin):
    form = CompanyAdminForm
    list_display = [
        "name",
        "domain",
        "phone",
        "country",
        "lifecycle_stage",
        "owner",
        "completeness",
        "created_at",
        "archived_at",
    ]
    list_filter = [ArchivedFilter, "lifecycle_stage", "source", "country", "phone_is_invalid", "owner"]
    search_fields = ["name", "domain", "email", "phone"]
    list_select_related = ["owner"]
    autocomplete_fields = ["owner", "tags"]
    readonly_fields = ["completeness", "created_at", "updated_at", "archived_at", "version"]
    date_hierarchy = "created_at"
    show_full_result_count = False  # no COUNT(*) over a million rows on every page

    def save_model(self, request, obj, form, change):
        services.customer_prepare_admin_save(instance=obj)
        super().save_model(request, obj, form, change)


class ContactAdminForm(VersionedAdminForm):
    """The app's birth date and postcode rules, so admin cannot save what the forms refuse."""

    class Meta:
        model = Contact
        fields = "__all__"
        field_classes = {"birth_date": BirthDateField}

    def clean_postcode(self) -> str:
        return normalize_postcode(self.cleaned_data.get("postcode", ""))


@admin.register(Contact)
class ContactAdmin(StrictHistoryAdmin):
    form = ContactAdminForm
    list_display = [
        "__str__",
        "email",
        "phone",
        "company",
        "country",
        "lifecycle_stage",
        "owner",
        "do_not_call",
        "do_not_email",
        "archived_at",
    ]
    list_filter = [
        ArchivedFilter,
        "lifecycle_stage",
        "source",
        "country",
        "do_not_call",
        "do_not_email",
        "phone_is_invalid",
        "owner",
    ]
    search_fields = ["first_name", "last_name", "email", "secondary_email", "phone", "mobile", "city", "postcode"]
    list_select_related = ["owner", "company"]
    autocomplete_fields = ["owner", "company", "tags"]
    readonly_fields = ["completeness", "created_at", "updated_at", "archived_at", "version"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def save_model(self, request, obj, form, change):
        services.customer_prepare_admin_save(instance=obj)
        super().save_model(request, obj, form, change)


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """Imports to look into when one goes wrong; they are run from the app, not from here."""

    list_display = ["file_name", "kind", "owner", "state", "total_rows", "created_count", "updated_count",
                    "rejected_count", "created_at"]  # fmt: skip
    list_filter = ["state", "kind"]
    search_fields = ["file_name", "owner__username"]
    list_select_related = ["owner"]
    exclude = ["file_data"]
    readonly_fields = [f.name for f in ImportJob._meta.fields if f.name != "file_data"]

    def has_add_permission(self, request):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).defer("file_data")


@admin.register(MergeRecord)
class MergeRecordAdmin(admin.ModelAdmin):
    """Read-only audit of merges: undo happens on the kept record's page, never here."""

    list_display = ["__str__", "kind", "actor", "merged_at", "undone_at", "finalized_at"]
    list_filter = ["kind", "merged_at"]
    list_select_related = ["actor", "survivor_company", "survivor_contact"]
    date_hierarchy = "merged_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(MatchParameters)
class MatchParametersAdmin(admin.ModelAdmin):
    """What each refresh estimated for the contact matcher (read-only: the refresh writes it)."""

    list_display = ("estimated_at", "pairs", "labelled_matches", "labelled_non_matches", "iterations", "converged")
    readonly_fields = (
        "estimated_at",
        "parameters",
        "pairs",
        "labelled_matches",
        "labelled_non_matches",
        "iterations",
        "converged",
    )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
