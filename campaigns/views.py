from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from campaigns import selectors, services
from campaigns.forms import (
    CampaignForm,
    DealFromMemberForm,
    LeadCaptureForm,
    LeadFormForm,
    MemberStatusForm,
    ResponseImportForm,
    SegmentForm,
)
from campaigns.models import Campaign, CampaignChannel, CampaignMember, LeadForm, MemberStatus, Segment
from campaigns.segments import segment_contacts
from contacts.imports import ImportFileError, read_table
from crm import security
from crm.exports import csv_streaming_response
from crm.params import clean_text, parse_choice, parse_int
from deals.money import RateBook

# A response CSV is read in the request: a mailing tool's export of one campaign.
RESPONSE_FILE_MAX_BYTES = 5 * 1024 * 1024
# The public lead form: anything bigger than a form of short fields is refused unread.
LEAD_POST_MAX_BYTES = 16 * 1024


# --- Campaigns ----------------------------------------------------------------------------


@require_GET
def campaign_list(request: HttpRequest) -> HttpResponse:
    page = selectors.campaign_page(
        request.user,
        after=clean_text(request.GET.get("after"), name="after", max_length=500),
        before=clean_text(request.GET.get("before"), name="before", max_length=500),
    )
    loops = selectors.loops(page.rows)
    rows = [(campaign, loops[campaign.pk]) for campaign in page.rows]
    return render(request, "campaigns/campaign_list.html", {"rows": rows, "page": page, "section": "campaigns"})


@require_GET
def campaign_report(request: HttpRequest) -> HttpResponse:
    """Campaigns side by side: members, responses, deals, pipeline, revenue, cost, ROI."""
    campaigns = list(
        selectors.campaigns_for_user(request.user)
        .exclude(status="draft")
        .order_by("-started_at", "-id")[: selectors.REPORT_LIMIT]
    )
    loops = selectors.loops(campaigns, book=RateBook())
    rows = [(campaign, loops[campaign.pk]) for campaign in campaigns]
    rows.sort(key=lambda row: (row[1].roi_percent is None, -(row[1].roi_percent or 0)))
    return render(request, "campaigns/campaign_report.html", {"rows": rows, "section": "campaigns"})


@require_http_methods(["GET", "POST"])
def campaign_create(request: HttpRequest) -> HttpResponse:
    form = CampaignForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        campaign = form.save(commit=False)
        campaign.owner = request.user
        services.campaign_create(campaign=campaign, actor=request.user)
        messages.success(request, _("Campaign created. Start it to freeze its target list."))
        return redirect(campaign)
    return render(request, "campaigns/campaign_form.html", {"form": form, "section": "campaigns"})


@require_http_methods(["GET", "POST"])
def campaign_edit(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_for_user(request.user, pk)
    if not request.user.can_edit_owner(campaign.owner_id):
        raise PermissionDenied
    form = CampaignForm(request.POST or None, instance=campaign, user=request.user)
    if request.method == "POST" and form.is_valid():
        version = parse_int(request.POST.get("version", ""), name="version") if request.POST.get("version") else None
        try:
            services.campaign_update(
                campaign=campaign,
                actor=request.user,
                version=version,
                data={name: form.cleaned_data[name] for name in form.changed_data if not form.fields[name].disabled},
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Campaign saved."))
            return redirect(campaign)
    return render(request, "campaigns/campaign_form.html", {"form": form, "campaign": campaign, "section": "campaigns"})


@require_GET
def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = selectors.campaign_for_user(request.user, pk)
    status = parse_choice(request.GET.get("status"), ["", *MemberStatus.values], name="status", default="")
    mine = request.GET.get("mine") == "1"
    after = parse_int(request.GET["after"], name="after") if request.GET.get("after") else 0
    members, next_after = selectors.member_page(
        campaign, status=status, owner=request.user if mine else None, after=after
    )
    can_edit = request.user.can_edit_owner(campaign.owner_id)
    lead_forms = selectors.lead_forms(campaign)
    return render(
        request,
        "campaigns/campaign_detail.html",
        {
            "campaign": campaign,
            "loop": selectors.loops([campaign])[campaign.pk],
            "status_rows": selectors.status_rows(campaign),
            "members": members,
            "next_after": next_after,
            "status": status,
            "mine": mine,
            "statuses": MemberStatus.choices,
            "deals": selectors.campaign_deals(campaign),
            "lead_forms": lead_forms,
            "lead_form_form": LeadFormForm(user=request.user) if can_edit else None,
            "import_form": ResponseImportForm() if can_edit and campaign.channel == CampaignChannel.EMAIL else None,
            "can_edit": can_edit,
            "section": "campaigns",
            "lead_base": request.build_absolute_uri("/")[:-1],
        },
    )


def _editable(request: HttpRequest, pk: int) -> Campaign:
    campaign = selectors.campaign_for_user(request.user, pk)
    if not request.user.can_edit_owner(campaign.owner_id):
        raise PermissionDenied
    return campaign


@require_POST
def campaign_start(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _editable(request, pk)
    try:
        campaign = services.campaign_start(campaign=campaign, actor=request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
        return redirect(campaign)
    text = ngettext(
        "Campaign started: %(members)s member.", "Campaign started: %(members)s members.", campaign.members_count
    ) % {"members": campaign.members_count}
    if campaign.channel == CampaignChannel.CALL and campaign.members_count and not campaign.tasks_created:
        text += " " + _("The call tasks are being created in the background; refresh in a minute.")
    elif campaign.tasks_created:
        text += " " + ngettext("%(n)s call task created.", "%(n)s call tasks created.", campaign.tasks_created) % {
            "n": campaign.tasks_created
        }
    messages.success(request, text)
    return redirect(campaign)


@require_POST
def campaign_finish(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _editable(request, pk)
    try:
        services.campaign_finish(campaign=campaign, actor=request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    return redirect(campaign)


@require_POST
def campaign_tasks(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _editable(request, pk)
    try:
        created = services.campaign_create_call_tasks(campaign=campaign, actor=request.user)
    except ValidationError as exc:
        messages.error(request, exc.messages[0])
    else:
        messages.success(
            request,
            ngettext("%(n)s call task created.", "%(n)s call tasks created.", created) % {"n": created}
            if created
            else _("Every member already has a call task."),
        )
    return redirect(campaign)


@require_GET
def campaign_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The member list for a mailing tool; ``member_id`` comes back in the response CSV."""
    campaign = _editable(request, pk)
    if campaign.is_draft:
        raise Http404
    rows = (
        CampaignMember.objects.filter(campaign=campaign)
        .order_by("pk")
        .values_list(
            "pk", "contact__email", "contact__first_name", "contact__last_name", "contact__company__name", "status"
        )
        .iterator(chunk_size=2000)
    )
    header = ["member_id", "email", "first_name", "last_name", "company", "status"]
    return csv_streaming_response(f"campaign-{campaign.pk}-members.csv", header, rows, request=request)


@require_POST
def campaign_import(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _editable(request, pk)
    if campaign.is_draft:
        raise Http404
    form = ResponseImportForm(request.POST, request.FILES)
    result = None
    error = ""
    if form.is_valid():
        upload = form.cleaned_data["file"]
        if upload.size > RESPONSE_FILE_MAX_BYTES:
            error = _("The file is larger than 5 MB.")
        else:
            data = upload.read()
            try:
                table = read_table(data, upload.name)
                headers = [header.strip().lower() for header in table.headers]
                rows = ((line, dict(zip(headers, cells, strict=False))) for line, cells in table.rows)
                result = services.responses_import(campaign=campaign, actor=request.user, rows=rows)
            except (ImportFileError, UnicodeDecodeError, LookupError) as exc:
                error = str(exc) or _("The file could not be read as CSV.")
    status = 200 if result is not None else 400
    return render(
        request,
        "campaigns/response_import.html",
        {"campaign": campaign, "form": form, "result": result, "error": error, "section": "campaigns"},
        status=status,
    )


# --- Members ------------------------------------------------------------------------------


@require_GET
def member_detail(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.member_for_user(request.user, pk)
    can_edit = services.member_can_edit(request.user, member)
    contact = member.contact
    default_title = f"{contact.company.name if contact.company else contact.full_name} — {member.campaign.name}"
    return render(
        request,
        "campaigns/member_detail.html",
        {
            "member": member,
            "campaign": member.campaign,
            "can_edit": can_edit,
            "status_form": MemberStatusForm(initial={"status": member.status, "note": member.note}),
            "deal_form": DealFromMemberForm(initial={"title": default_title[:200]}) if can_edit else None,
            "deals": list(member.deals.select_related("deal", "deal__stage")),
            "section": "campaigns",
        },
    )


@require_POST
def member_status(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.member_for_user(request.user, pk)
    form = MemberStatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose a response status."))
        return redirect(member)
    services.member_set_status(
        member=member, actor=request.user, status=form.cleaned_data["status"], note=form.cleaned_data["note"]
    )
    messages.success(request, _("Response recorded: %(status)s.") % {"status": member.get_status_display()})
    target = request.POST.get("next") or ""
    if target == "campaign":
        return redirect(member.campaign)
    return redirect(member)


@require_POST
def member_deal(request: HttpRequest, pk: int) -> HttpResponse:
    member = selectors.member_for_user(request.user, pk)
    if not services.member_can_edit(request.user, member):
        raise PermissionDenied
    form = DealFromMemberForm(request.POST)
    if form.is_valid():
        stage = form.cleaned_data["stage"]
        try:
            deal = services.deal_from_member(
                member=member,
                actor=request.user,
                title=form.cleaned_data["title"],
                amount=form.cleaned_data["amount"],
                currency=form.cleaned_data["currency"],
                pipeline=stage.pipeline,
                stage=stage,
                expected_close_date=form.cleaned_data["expected_close_date"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Deal created from the campaign response."))
            return redirect(deal)
    return render(
        request,
        "campaigns/member_detail.html",
        {
            "member": member,
            "campaign": member.campaign,
            "can_edit": True,
            "status_form": MemberStatusForm(initial={"status": member.status, "note": member.note}),
            "deal_form": form,
            "deals": list(member.deals.select_related("deal", "deal__stage")),
            "section": "campaigns",
        },
        status=400,
    )


# --- Segments -----------------------------------------------------------------------------


@require_GET
def segment_list(request: HttpRequest) -> HttpResponse:
    segments = list(Segment.objects.visible_to(request.user).select_related("owner", "team").order_by("name", "id"))
    return render(request, "campaigns/segment_list.html", {"segments": segments, "section": "campaigns"})


def _segment_count(request: HttpRequest, form: SegmentForm) -> int | None:
    if not form.is_valid():
        return None
    data = form.cleaned_data
    return segment_contacts(
        request.user,
        lifecycle_stages=data["lifecycle_stages"],
        value_segments=data["value_segments"],
        tag_ids=[tag.pk for tag in data["tags"]],
        country=str(data["country"] or ""),
        record_owner_id=data["record_owner"].pk if data["record_owner"] else None,
        record_team_id=data["record_team"].pk if data["record_team"] else None,
        filter_keys=data["company_filters"],
    ).count()


@require_http_methods(["GET", "POST"])
def segment_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Build a segment; "Count" (or any change, through htmx) shows how many contacts it
    matches before it is saved."""
    segment = selectors.segment_for_user(request.user, pk) if pk else Segment(owner=request.user)
    if pk and not request.user.can_edit_owner(segment.owner_id):
        raise PermissionDenied
    form = SegmentForm(request.POST or None, instance=segment, user=request.user)
    count = None
    if request.method == "POST":
        count = _segment_count(request, form)
        if request.htmx:
            return render(request, "campaigns/partials/segment_count.html", {"count": count, "form": form})
        if "save" in request.POST and form.is_valid():
            saved = form.save(commit=False)
            services.segment_save(segment=saved, actor=request.user, tags=form.cleaned_data["tags"])
            messages.success(request, _("Segment saved."))
            return redirect(reverse("campaigns:segment-list"))
    elif pk:
        count = _segment_count(request, SegmentForm(_segment_data(segment), instance=segment, user=request.user))
    return render(
        request,
        "campaigns/segment_form.html",
        {"form": form, "segment": segment if pk else None, "count": count, "section": "campaigns"},
    )


def _segment_data(segment: Segment) -> dict:
    return {
        "name": segment.name,
        "team": segment.team_id or "",
        "lifecycle_stages": segment.lifecycle_stages,
        "value_segments": segment.value_segments,
        "company_filters": segment.company_filters,
        "tags": [tag.pk for tag in segment.tags.all()],
        "country": segment.country or "",
        "record_owner": segment.record_owner_id or "",
        "record_team": segment.record_team_id or "",
    }


# --- Lead capture -------------------------------------------------------------------------


@require_POST
def lead_form_create(request: HttpRequest, pk: int) -> HttpResponse:
    campaign = _editable(request, pk)
    form = LeadFormForm(request.POST, user=request.user)
    if form.is_valid():
        lead_form = form.save(commit=False)
        lead_form.campaign = campaign
        lead_form.save()
        messages.success(request, _("Lead capture form created."))
    else:
        messages.error(request, _("The lead form could not be created: %(errors)s") % {"errors": form.errors.as_text()})
    return redirect(campaign)


def _lead_page(request: HttpRequest, lead_form: LeadForm, form: LeadCaptureForm, *, status: int, error: str = ""):
    return render(
        request, "campaigns/lead_form.html", {"lead_form": lead_form, "form": form, "error": error}, status=status
    )


@csrf_exempt  # posted from other sites by the embedded snippet; it signs no one in
@login_not_required
@require_http_methods(["GET", "POST"])
def lead_form(request: HttpRequest, key: str) -> HttpResponse:
    """The public lead form and its plain POST endpoint. Refused with a 4xx and nothing
    stored: bodies over 16 KB (413), more than ``LEAD_FORM_LIMIT`` posts an hour from one
    address (429), a filled honeypot, markup in names, missing consent or bad fields (400)."""
    key = clean_text(key, name="key", max_length=40)
    lead = LeadForm.objects.select_related("campaign", "team").filter(key=key, active=True).first()
    if lead is None or lead.campaign.status == "finished":
        raise Http404
    if request.method == "GET":
        return _lead_page(request, lead, LeadCaptureForm(), status=200)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = LEAD_POST_MAX_BYTES + 1
    if length > LEAD_POST_MAX_BYTES:
        return _lead_page(request, lead, LeadCaptureForm(), status=413, error=_("Your request is too large."))
    ip = security.client_ip(request) or "-"
    if security.rate_limit_hit(scope="web-lead", key=ip, limit=settings.LEAD_FORM_LIMIT, window_seconds=3600):
        message = _("Too many requests from your address. Please try again in an hour.")
        return _lead_page(request, lead, LeadCaptureForm(), status=429, error=message)
    form = LeadCaptureForm(request.POST)
    if request.POST.get("website"):
        return _lead_page(request, lead, LeadCaptureForm(), status=400, error=_("Your request could not be accepted."))
    if not form.is_valid():
        return _lead_page(request, lead, form, status=400)
    data = form.cleaned_data
    try:
        services.lead_capture(
            lead_form=lead,
            first_name=data["first_name"],
            last_name=data["last_name"],
            email=data["email"],
            phone=data["phone"],
            company_name=data["company"],
            message=data["message"],
            consented=data["consent"],
        )
    except ValidationError as exc:
        for name, errors in exc.message_dict.items() if hasattr(exc, "error_dict") else []:
            if name in form.fields:
                for message in errors:
                    form.add_error(name, message)
        return _lead_page(request, lead, form, status=400, error="" if hasattr(exc, "error_dict") else exc.messages[0])
    return render(request, "campaigns/lead_thanks.html", {"lead_form": lead})
