"""Reads for companies and contacts: access helpers, lists, search and history."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.contrib.postgres.expressions import ArraySubquery
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.fields.array import ArrayOverlap
from django.contrib.postgres.lookups import DataContains
from django.core.exceptions import PermissionDenied
from django.db.models import (
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    TextField,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Collate, JSONObject, Lower
from django.db.models.lookups import Contains, In
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django_countries import countries

from contacts import linkage
from contacts.keyset import (
    KeysetPage,
    SortOption,
    Tier,
    TieredSearch,
    capped,
    capped_count_query,
    first_page,
    first_page_query,
    for_search,
    unindexed,
)
from contacts.lookups import TrigramIContains  # also registers __trgm_icontains
from contacts.matching import reason_label
from contacts.models import (
    Attachment,
    CandidateStatus,
    Company,
    Contact,
    DuplicateCandidate,
    ImportJob,
    LifecycleStage,
    MergeRecord,
    OwnerArray,
    RecordKind,
    Tag,
    yo_folded,
)
from contacts.normalize import format_phone, looks_like_phone, normalize_phone, phone_digits
from crm import custom_fields
from crm.compiled import CompiledQuery, IdArray, OwnerAccess, any_of, owner_ids_of
from crm.html import DateText
from crm.l10n import is_cjk, name_collation, person_name
from crm.models import User, teams_visible_to
from crm.params import id_or_none, int_or_none
from crm.rows import ListRow, list_rows

if TYPE_CHECKING:
    from django.db.models import Model

# Each sort is backed by an index on (keys…, id); see the model's Meta.indexes.
COMPANY_SORTS: dict[str, SortOption] = {
    "name": SortOption(gettext_lazy("Name"), (Collate("name", "crm_name_en"),)),
    "-name": SortOption(gettext_lazy("Name"), (Collate("name", "crm_name_en"),), descending=True),
    "domain": SortOption(gettext_lazy("Domain"), (F("domain"),)),
    "-domain": SortOption(gettext_lazy("Domain"), (F("domain"),), descending=True),
    "country": SortOption(gettext_lazy("Country"), (F("country"),)),
    "-country": SortOption(gettext_lazy("Country"), (F("country"),), descending=True),
    "stage": SortOption(gettext_lazy("Stage"), (F("lifecycle_stage"),)),
    "-stage": SortOption(gettext_lazy("Stage"), (F("lifecycle_stage"),), descending=True),
    "created": SortOption(gettext_lazy("Created"), (F("created_at"),)),
    "-created": SortOption(gettext_lazy("Created"), (F("created_at"),), descending=True),
}
CONTACT_SORTS: dict[str, SortOption] = {
    "name": SortOption(
        gettext_lazy("Name"), (Collate("last_name", "crm_name_en"), Collate("first_name", "crm_name_en"))
    ),
    "-name": SortOption(
        gettext_lazy("Name"),
        (Collate("last_name", "crm_name_en"), Collate("first_name", "crm_name_en")),
        descending=True,
    ),
    "email": SortOption(gettext_lazy("Email"), (Lower("email"),)),
    "-email": SortOption(gettext_lazy("Email"), (Lower("email"),), descending=True),
    "country": SortOption(gettext_lazy("Country"), (F("country"),)),
    "-country": SortOption(gettext_lazy("Country"), (F("country"),), descending=True),
    "stage": SortOption(gettext_lazy("Stage"), (F("lifecycle_stage"),)),
    "-stage": SortOption(gettext_lazy("Stage"), (F("lifecycle_stage"),), descending=True),
    "created": SortOption(gettext_lazy("Created"), (F("created_at"),)),
    "-created": SortOption(gettext_lazy("Created"), (F("created_at"),), descending=True),
}


def company_name_key(language: str | None = None) -> Collate:
    """A company's name as the reader's language sorts it (``crm.l10n.name_collation``)."""
    return Collate("name", name_collation(language))


def contact_name_keys(language: str | None = None) -> tuple[Collate, Collate]:
    collation = name_collation(language)
    return Collate("last_name", collation), Collate("first_name", collation)


def _with_name_sort(sorts: dict[str, SortOption], keys: tuple[Collate, ...]) -> dict[str, SortOption]:
    return {
        **sorts,
        "name": SortOption(sorts["name"].label, keys),
        "-name": SortOption(sorts["-name"].label, keys, descending=True),
    }


def company_sorts(language: str | None = None) -> dict[str, SortOption]:
    """``COMPANY_SORTS`` with the name sorted in the collation of ``language`` (the active one):
    each collation has its index (``company_name_en`` / ``_ru`` / ``_zh``), so keyset pages
    stay index scans in every language."""
    return _with_name_sort(COMPANY_SORTS, (company_name_key(language),))


def contact_sorts(language: str | None = None) -> dict[str, SortOption]:
    """``CONTACT_SORTS`` with last and first name in the collation of ``language``."""
    return _with_name_sort(CONTACT_SORTS, contact_name_keys(language))


# --- Access -------------------------------------------------------------------------------


def _with_tag_names(qs: QuerySet) -> QuerySet:
    """Adds ``tag_names`` (sorted) to each row, read in the same query (``record_tags``)."""
    tags = Tag.objects.filter(**{qs.model._meta.get_field("tags").related_query_name(): OuterRef("pk")})
    return qs.annotate(tag_names=ArraySubquery(tags.order_by("name").values("name")))


def record_tags(record: Company | Contact) -> list[Tag]:
    """The record's tags for display: from ``tag_names`` when the record was loaded with them."""
    names = getattr(record, "tag_names", None)
    if names is None:
        return list(record.tags.all())
    return [Tag(name=name) for name in names]


def _with_dedupe_facts(qs: QuerySet, user: User | OwnerAccess, *, cutoff: datetime | None = None) -> QuerySet:
    """Adds what the record's page says about duplicates, in the same query:
    ``open_duplicates`` (open candidate pairs whose other record the user may see) and
    ``has_open_merges`` (a merge into it since ``cutoff`` that can still be undone;
    ``contacts.merge.open_merges`` then lists them)."""
    kind = RecordKind.COMPANY if qs.model is Company else RecordKind.CONTACT
    pairs = DuplicateCandidate.objects.filter(status=CandidateStatus.OPEN, kind=kind).filter(
        Q(**{f"{kind}_a": OuterRef("pk")}) | Q(**{f"{kind}_b": OuterRef("pk")})
    )
    count = _pair_visible(pairs, user, kind).order_by().annotate(n=Func(F("pk"), function="COUNT")).values("n")
    merges = MergeRecord.objects.filter(
        **{f"survivor_{kind}": OuterRef("pk")},
        undone_at__isnull=True,
        finalized_at__isnull=True,
        merged_at__gt=cutoff or _merge_undo_cutoff(),
    )
    return qs.annotate(open_duplicates=Subquery(count, output_field=IntegerField()), has_open_merges=Exists(merges))


def _merge_undo_cutoff() -> datetime:
    return timezone.now() - timedelta(days=settings.MERGE_UNDO_DAYS)


def _record_page(
    key: tuple[type[Company | Contact], bool], *, pk: int, owners: list[int], cutoff: datetime
) -> QuerySet:
    """A company's or a contact's row for its page: its tags, (a company's) first contacts and
    its duplicate facts, for a viewer who is an admin or sees ``owners``' records."""
    model, is_admin = key
    viewer = OwnerAccess(is_admin=is_admin, visible_owner_ids=owners)
    qs = model.objects.visible_to(viewer)
    qs = _with_tag_names(qs.select_related("owner") if model is Company else qs.select_related("owner", "company"))
    qs = _with_contact_rows(qs) if model is Company else qs
    return _with_dedupe_facts(qs, viewer, cutoff=cutoff).filter(pk=pk).order_by()[:1]


# The 360 pages' record query, compiled once per process (crm/compiled.py): its subqueries
# (tags, contacts as JSON, duplicate pairs the viewer may see, open merges) cost the ORM
# more time to build and compile than PostgreSQL takes to answer.
_RECORD_PAGE = CompiledQuery(_record_page, pk=int, owners=list, cutoff=datetime)


def _page_record(model: type[Company | Contact], user: User, pk: int) -> Company | Contact | None:
    found = _RECORD_PAGE.fetch((model, user.is_admin), pk=pk, owners=owner_ids_of(user), cutoff=_merge_undo_cutoff())
    return found[0] if found else None


def company_for_user(
    user: User, pk: int, *, write: bool = False, with_tags: bool = False, for_page: bool = False
) -> Company:
    """The company if ``user`` may see it (else 404); with ``write``, 403 if read-only to them.
    ``with_tags`` loads the tag names in the same query (see ``record_tags``); ``for_page``
    also the duplicate facts and the first contacts its page shows (``_record_page``)."""
    if for_page:
        company = _page_record(Company, user, pk)
    else:
        qs = Company.objects.visible_to(user).select_related("owner")
        company = (_with_tag_names(qs) if with_tags else qs).filter(pk=pk).first()
    if company is None:
        raise Http404
    if write and not user.can_edit_owner(company.owner_id):
        raise PermissionDenied
    return company


def contact_for_user(
    user: User, pk: int, *, write: bool = False, with_tags: bool = False, for_page: bool = False
) -> Contact:
    """The contact if ``user`` may see it (else 404); with ``write``, 403 if read-only to them.
    ``with_tags`` loads the tag names in the same query (see ``record_tags``); ``for_page``
    also the duplicate facts its page shows (``_record_page``)."""
    if for_page:
        contact = _page_record(Contact, user, pk)
    else:
        qs = Contact.objects.visible_to(user).select_related("owner", "company")
        contact = (_with_tag_names(qs) if with_tags else qs).filter(pk=pk).first()
    if contact is None:
        raise Http404
    if write and not user.can_edit_owner(contact.owner_id):
        raise PermissionDenied
    return contact


def import_job_for_user(user: User, pk: int, *, write: bool = False) -> ImportJob:
    """The job if ``user`` started it (admins may look at anyone's); 404 otherwise.

    Only the person who started an import changes it (mapping, confirming): an admin
    looking at someone else's gets 403.
    """
    job = ImportJob.objects.without_file().visible_to(user).select_related("owner").filter(pk=pk).first()
    if job is None:
        raise Http404
    if write and job.owner_id != user.pk:
        raise PermissionDenied
    return job


# --- Search -------------------------------------------------------------------------------


def _phone_q(query: str, *fields: str) -> Q:
    """Matches a phone typed in any format: its E.164 form, or the same trailing digits."""
    condition = Q()
    result = normalize_phone(query)
    if result.valid and result.e164:
        for name in fields:
            condition |= Q(**{name: result.e164})
    digits = phone_digits(query).lstrip("0")
    if len(digits) >= 5:
        # Catches national formats ("8 916 …" vs "+7 916 …", same last ten digits) and a
        # part of a number ("916 123"); the trigram index on the column answers both.
        for name in fields:
            condition |= Q(**{f"{name}__contains": digits[-10:]})
    # Numbers kept as typed (invalid) are only findable by the text as they were typed.
    for name in fields:
        condition |= Q(**{f"{name}__trgm_icontains": query.strip()})
    return condition


def fold_yo(word: str) -> str:
    """Russian writes ё as е more often than not: "Федор" must find "Фёдор" and back. Both the
    word and the column (``contacts.models.yo_folded``) are compared with ё as е."""
    return word.replace("ё", "е").replace("Ё", "Е")


def _any_variant(field: str, word: str) -> Q:
    return Q(TrigramIContains(yo_folded(field), fold_yo(word)))


class CjkBigrams(Func):
    """The CJK character pairs of a text (SQL ``crm_cjk_bigrams``, indexed on company names)."""

    function = "crm_cjk_bigrams"
    output_field = ArrayField(TextField())


def is_cjk_pair(query: str) -> bool:
    return len(query) == 2 and is_cjk(query[0]) and is_cjk(query[1])


def text_contains_q(field: str, query: str) -> Q:
    """``field`` contains ``query`` (ILIKE, answered by the field's trigram index), or for two
    CJK characters — which make no trigram, so the trigram index would read all of it — by
    its ``crm_cjk_bigrams`` index first (deal titles, activity subjects, company names)."""
    if is_cjk_pair(query):
        # The ILIKE on an unindexed copy of the column only confirms the pair is in one piece:
        # on the column itself the planner would pick the trigram index, which for a pattern
        # without trigrams returns every row (13 s at 3,000,000 activity subjects).
        return Q(DataContains(CjkBigrams(field), [query])) & Q(TrigramIContains(unindexed(F(field)), query))
    return Q(**{f"{field}__trgm_icontains": query})


def company_search_q(query: str) -> Q:
    query = query.strip()
    if not query:
        return Q()
    if looks_like_phone(query):
        return _phone_q(query, "phone")
    condition = (
        _any_variant("name", query) | Q(domain__trgm_icontains=query.lower()) | Q(email__trgm_icontains=query.lower())
    )
    if is_cjk_pair(query):
        # Two CJK characters make no trigram: the bigram index finds the names (migration 0014).
        return text_contains_q("name", query)
    return condition


class CjkNameGrams(Func):
    """The CJK characters and character pairs of family name + given name (SQL
    ``crm_cjk_name_grams``, GIN-indexed on contacts: migration ``add_contact_cjk_name_index``)."""

    function = "crm_cjk_name_grams"
    output_field = ArrayField(TextField())


def cjk_grams(word: str) -> list[str]:
    """What a CJK ``word`` must share with a name's ``crm_cjk_name_grams``: the character
    itself when it is one ("王"), else its character pairs ("王小明" → 王小, 小明)."""
    if len(word) == 1:
        return [word]
    return list(dict.fromkeys(word[i : i + 2] for i in range(len(word) - 1)))


def _cjk_name_q(word: str) -> Q:
    """A Chinese (Japanese, Korean) word in a contact's name as written, family name first:
    the index finds the names with every gram of the word, the LIKE keeps those with the word
    in one piece ("小明" finds 王小明; "王小明" too, though it spans both columns)."""
    written = Func(F("last_name"), F("first_name"), template="(%(expressions)s)", arg_joiner=" || ")
    return Q(DataContains(CjkNameGrams("last_name", "first_name"), cjk_grams(word))) & Q(
        Contains(ExpressionWrapper(written, output_field=TextField()), word)
    )


def _is_all_cjk(word: str) -> bool:
    return all(is_cjk(char) for char in word)


def contact_search_q(query: str) -> Q:
    """Every word must match a name or an email ("anna petrova", "petrova@"), or a phone.

    Cyrillic е finds ё and back (``fold_yo``); a word of Chinese characters is looked up
    in the name as written, family name first ("王", "小明", "王小明"), through the CJK gram
    index: one or two characters make no trigram, so the trigram indexes cannot answer them.
    A search of what a user may read is ``visible_contacts_matching``.
    """
    return _contact_search(query)[0]


def _contact_search(query: str) -> tuple[Q, list[str]]:
    """``contact_search_q``'s condition, and the words it looks up in ``search_text`` (none for
    a phone number or Chinese characters)."""
    query = query.strip()
    if not query:
        return Q(), []
    if looks_like_phone(query):
        return _phone_q(query, "phone", "mobile"), []
    condition = Q()
    words = []
    for word in query.split()[:5]:
        if _is_all_cjk(word):
            condition &= _cjk_name_q(word[:20])
            continue
        # A name or the email contains the word: one trigram index scan (``search_text``).
        condition &= Q(search_text__lower_contains=fold_yo(word))
        words.append(word)
    return condition, words


def surname_words(query: str) -> list[str]:
    """The lower-cased words of ``query`` that could be a surname: those ``contact_search_q``
    looks up in ``search_text``."""
    return [word.lower() for word in _contact_search(query)[1]]


def visible_contacts_matching(user: Any, query: str, contacts: QuerySet[Contact] | None = None) -> QuerySet[Contact]:
    """``contacts`` (all by default) that ``user`` (a user or ``OwnerAccess``) may read and that
    match ``query``: ``visible_to(user)`` filtered by ``contact_search_q(query)``.

    For a viewer who sees some owners only, a search of ``search_text`` states the read access
    as the search index's owner condition, ``ARRAY[owner_id] && ARRAY[their owners]``
    (``contact_owners_search_trgm``), which is ``owner_id IN (their owners)``: PostgreSQL reads
    only their matches from the index, in one scan. Stated a second time as ``visible_to``'s
    ``owner_id IN``, it made PostgreSQL AND that scan with the bitmap of every contact of
    those owners from the (owner, stage) index, which it takes for a further filter (a
    manager's ``smith``: 166,791 entries for nothing, 13.5 → 7.7 ms; bench/FINDINGS.md §7.21).
    """
    contacts = Contact.objects.all() if contacts is None else contacts
    condition, words = _contact_search(query)
    if words and not user.is_admin:
        return contacts.filter(ArrayOverlap(OwnerArray(), sorted(user.visible_owner_ids))).filter(condition)
    return contacts.visible_to(user).filter(condition)


# --- Lists --------------------------------------------------------------------------------


@dataclass
class ListFilters:
    """Validated filters of a list page (built from its filter form's cleaned data)."""

    q: str = ""
    owner: User | None = None
    team_id: int | None = None
    tag: str = ""
    stage: str = ""
    country: str = ""
    source: str = ""
    created_from: date | None = None
    created_to: date | None = None
    archived: bool = False
    company: Company | None = None
    segment: str = ""  # companies only: the RFM segment the reports app writes onto Company
    # Data quality: "email", "phone", "company" (contacts) or "owner" (owner no longer active).
    missing: str = ""
    invalid_phone: bool = False
    # Custom field filters: (field, op, value) for ``crm.custom_fields.apply_filters``.
    custom: list[tuple[Any, str, Any]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


def _apply_common_filters(qs: QuerySet, filters: ListFilters) -> QuerySet:
    qs = qs.archived() if filters.archived else qs.active()
    if filters.owner is not None:
        qs = qs.filter(owner=filters.owner)
    if filters.team_id is not None:
        qs = qs.filter(owner__in=User.objects.filter(teams__id=filters.team_id).values("id"))
    if filters.tag:
        qs = qs.filter(tags__name__iexact=filters.tag)
    if filters.stage:
        qs = qs.filter(lifecycle_stage=filters.stage)
    if filters.country:
        qs = qs.filter(country=filters.country)
    if filters.custom:
        qs = custom_fields.apply_filters(qs, filters.custom)
    if filters.source:
        qs = qs.filter(source=filters.source)
    tz = timezone.get_current_timezone()
    if filters.created_from:
        qs = qs.filter(created_at__gte=datetime.combine(filters.created_from, time.min, tzinfo=tz))
    if filters.created_to:
        qs = qs.filter(created_at__lte=datetime.combine(filters.created_to, time.max, tzinfo=tz))
    if filters.missing:
        qs = qs.filter(MISSING[qs.model][filters.missing])
    if filters.invalid_phone:
        qs = qs.filter(phone_is_invalid=True)
    return qs


# What "missing" means per model, shared by the list filters and the data-quality counts
# (each has a partial index in the model's Meta, see "company_no_email" etc.).
MISSING: dict[type, dict[str, Q]] = {
    Company: {
        "email": Q(email=""),
        "phone": Q(phone=""),
        "owner": Q(owner__is_active=False),
    },
    Contact: {
        "email": Q(email=""),
        "phone": Q(phone="", mobile=""),
        "company": Q(company__isnull=True),
        "owner": Q(owner__is_active=False),
    },
}


def company_list(user: User, filters: ListFilters) -> QuerySet[Company]:
    """Visible companies matching ``filters``, with what a list row shows."""
    qs = Company.objects.visible_to(user)
    qs = _apply_common_filters(qs, filters)
    if filters.segment:
        qs = qs.filter(value_segment=filters.segment)
    if filters.q:
        qs = qs.filter(company_search_q(filters.q))
    return _company_row_columns(qs)


def _company_row_columns(qs: QuerySet[Company]) -> QuerySet[Company]:
    """``qs`` with what a company list row shows beyond its own columns."""
    active_contacts = (
        Contact.objects.filter(company=OuterRef("pk"), archived_at__isnull=True)
        .order_by()
        .values("company")
        .annotate(n=Count("id"))
        .values("n")
    )
    return _with_tag_names(qs.select_related("owner")).annotate(
        contact_count=Coalesce(Subquery(active_contacts, output_field=IntegerField()), 0)
    )


def _contact_filters(qs: QuerySet[Contact], filters: ListFilters) -> QuerySet[Contact]:
    """``qs`` narrowed by ``filters`` besides the search."""
    qs = _apply_common_filters(qs, filters)
    return qs if filters.company is None else qs.filter(company=filters.company)


def contact_list(user: User, filters: ListFilters) -> QuerySet[Contact]:
    """Visible contacts matching ``filters``, with what a list row shows."""
    return _contact_row_columns(_contact_filters(visible_contacts_matching(user, filters.q), filters))


# The contact list's order for a search when no other is chosen (``ContactFilterForm``).
BEST_MATCH = "best"
# The surname index's order (``contact_lower_name``): a surname block is walked in it.
_SURNAME_ORDER = SortOption("best match", (Lower("last_name"), Lower("first_name")))


def surname_matches(user: Any, query: str) -> QuerySet[Contact] | None:
    """``visible_contacts_matching(user, query)`` whose surname is a word of ``query``
    (``surname_words``), or ``None`` when no word of it could be one.

    For a one-word query, a surname equal to it is all the search asks (``search_text`` holds
    the surname), so the search's condition is left out: with it, PostgreSQL estimated a
    handful of matches and read them all through the trigram index instead of walking the
    surname index (51 ms for an admin's "smith"; bench/FINDINGS.md §7.21)."""
    words = surname_words(query)
    if not words:
        return None
    if len(words) == 1 and len(query.split()) == 1:
        return Contact.objects.visible_to(user).alias(surname=Lower("last_name")).filter(surname=words[0])
    return visible_contacts_matching(user, query).alias(surname=Lower("last_name")).filter(surname__in=words)


def contact_search_tiers(user: User, filters: ListFilters) -> TieredSearch | None:
    """The contact list's search in best-match order, for ``keyset.tiered_search_page``: the
    contacts whose surname is a word searched ("smith": the Smiths), by name from the surname
    index; then the other matches (the Goldsmiths, the people at smithholdings.co.uk) by name
    in the reader's collation. ``None`` when no word of the query could be a surname (a phone
    number, Chinese characters): the list is then in name order.

    An admin's count adds the blocks' (the Smiths alone pass 1,000: 2 ms from the surname
    index). A viewer who sees some owners only has all their matches counted at once, from
    the search index scoped to those owners: their capped count of Smiths had PostgreSQL AND
    the surname index with every contact of theirs from the owner index (a rep's "smith":
    7.4 ms against 4.9; bench/FINDINGS.md §7.22)."""
    surnamed = surname_matches(user, filters.q)
    if surnamed is None:
        return None
    matches = _contact_filters(visible_contacts_matching(user, filters.q), filters)
    others = matches.alias(surname=Lower("last_name")).exclude(surname__in=surname_words(filters.q))
    return TieredSearch(
        [
            Tier(_contact_filters(surnamed, filters), _SURNAME_ORDER, walk=True),
            Tier(others, for_search(contact_sorts()["name"])),
        ],
        counted=None if user.is_admin else matches,
    )


def best_match_order(query: str) -> list[Any]:
    """``contact_search_tiers``' order as one ``order_by`` (the list's export): the surname
    matches first in the surname index's order, then the others by name."""
    words = surname_words(query)
    if not words:
        return [*contact_name_keys(), "id"]
    surnamed = In(Lower("last_name"), words)
    first = [Case(When(surnamed, then=key)) for key in (*_SURNAME_ORDER.keys, F("id"))]
    return [Case(When(surnamed, then=0), default=1), *first, *contact_name_keys(), "id"]


def _contact_row_columns(qs: QuerySet[Contact]) -> QuerySet[Contact]:
    """``qs`` with what a contact list row shows beyond its own columns."""
    return _with_tag_names(qs.select_related("owner", "company"))


# The columns a list row shows: a page loads these alone, not the ~40 columns of each
# contact, its company and its owner.
_OWNER_NAME = ("owner_id", "owner__username", "owner__first_name", "owner__last_name")
COMPANY_ROW_FIELDS = (
    *("id", "name", "industry", "domain", "phone", "phone_is_invalid", "country", "lifecycle_stage"),
    *("value_segment", "archived_at", "created_at", "tag_names", "contact_count", *_OWNER_NAME, "custom"),
    "version",  # sent by the row's inline editors (crm.inline)
)
CONTACT_ROW_FIELDS = (
    *("id", "first_name", "last_name", "title", "email", "do_not_email", "phone", "mobile", "do_not_call"),
    *("phone_is_invalid", "country", "lifecycle_stage", "archived_at", "created_at", "tag_names", *_OWNER_NAME),
    *("company_id", "company__name", "custom", "version"),
)


def _unfiltered_list(key: tuple[str, bool, str, int, str], *, owners: list[int]) -> QuerySet:
    kind, is_admin, sort, size, query = key
    viewer = OwnerAccess(is_admin, owners)
    if kind == "contact":
        matching, fields, sorts = contact_list(viewer, ListFilters()), CONTACT_ROW_FIELDS, contact_sorts()
    else:
        matching, fields, sorts = company_list(viewer, ListFilters()), COMPANY_ROW_FIELDS, company_sorts()
    if query == "count":
        # Counted before ``list_rows``: its owner and company columns join tables a count does
        # not need (PostgreSQL keeps an inner join; counting the ids alone is an index-only
        # scan: 2–3.5 ms → 0.2 ms for a rep's six owners on the large dataset).
        return capped_count_query(matching)
    return first_page_query(list_rows(matching, fields), sorts[sort], size=size)


# The contact and company lists as most visits open them (no filter, no search, the first page
# in one of the sorts): the page's rows and the capped count, built and compiled once per
# list, sort, role and number of visible owners.
_UNFILTERED_LIST = CompiledQuery(_unfiltered_list, owners=list)


def unfiltered_first_page(user: User, kind: str, sort: str, *, size: int) -> tuple[KeysetPage, int, bool]:
    """The first page of the contact (``kind`` "contact") or company list with no filter, in
    ``sort``, and its capped count: what ``keyset_page`` and ``capped_count`` give for
    ``contact_list``/``company_list`` of ``ListFilters()``."""
    if kind not in ("contact", "company"):
        raise ValueError(f"no {kind!r} list")
    sorts = contact_sorts() if kind == "contact" else company_sorts()
    owners = owner_ids_of(user)
    rows = _UNFILTERED_LIST.fetch((kind, user.is_admin, sort, size, "page"), owners=owners)
    count, more = capped(_UNFILTERED_LIST.count((kind, user.is_admin, sort, size, "count"), owners=owners))
    return first_page(rows, sorts[sort], size=size), count, more


def _rows_by_id(key: tuple[str, bool], *, owners: list[int], ids: IdArray) -> QuerySet:
    kind, is_admin = key
    if kind == "contact":
        records, fields = _contact_row_columns(Contact.objects.all()), CONTACT_ROW_FIELDS
    else:
        records, fields = _company_row_columns(Company.objects.all()), COMPANY_ROW_FIELDS
    # Read access again (the ids come from the viewer's own search, a moment earlier).
    visible = records.visible_to(OwnerAccess(is_admin, owners))
    return list_rows(visible.filter(any_of("pk", ids)).order_by(), fields)


# A search's page of rows by the ids its match query found (``search_page``), compiled once per
# list, role and number of visible owners: the ids are one array parameter.
_ROWS_BY_ID = CompiledQuery(_rows_by_id, owners=list, ids=IdArray)


def list_rows_by_id(user: User, kind: str, ids: list[int]) -> list[ListRow]:
    """The contact (``kind`` "contact") or company list's rows of ``ids`` that ``user`` may
    see, in no particular order: what ``list_rows(contact_list(…))`` gives of them."""
    if kind not in ("contact", "company"):
        raise ValueError(f"no {kind!r} list")
    return _ROWS_BY_ID.fetch((kind, user.is_admin), owners=owner_ids_of(user), ids=IdArray(ids))


# What the company page's "People" panel shows of each contact (company_contacts.html).
_PANEL_FIELDS = (
    "id", "first_name", "last_name", "title", "email", "phone", "mobile", "phone_is_invalid", "do_not_call",
    "do_not_email",
)  # fmt: skip
COMPANY_CONTACTS_SHOWN = 50


def _company_contacts_qs(company: Company | OuterRef) -> QuerySet[Contact]:
    return Contact.objects.filter(company=company, archived_at__isnull=True).order_by(*contact_name_keys(), "id")


def _with_contact_rows(qs: QuerySet) -> QuerySet:
    """Adds ``contact_rows``: the first 50 active contacts of each company as JSON objects of
    ``_PANEL_FIELDS``, in the same query (the company page stays within 10 queries)."""
    # The JSON is built for the 50 rows shown only: built in the same SELECT as the sort, it
    # was computed for every contact of the company before the top-50 sort (2 ms for 729).
    first = _company_contacts_qs(OuterRef(OuterRef("pk"))).values("pk")[:COMPANY_CONTACTS_SHOWN]
    rows = (
        Contact.objects.filter(pk__in=first)
        .order_by(*contact_name_keys(), "id")
        .values(row=JSONObject(**{name: name for name in _PANEL_FIELDS}))
    )
    return qs.annotate(contact_rows=ArraySubquery(rows))


def company_contacts(company: Company, *, limit: int = COMPANY_CONTACTS_SHOWN) -> list[ListRow]:
    """The company's active contacts for its 360 page (visible because the company is), as
    plain rows of ``_PANEL_FIELDS`` with the names and numbers the panel prints: from
    ``contact_rows`` when the company was loaded with them (``company_for_user(for_page=True)``).
    Rows, not ``Contact``s: building 50 model instances cost more than the panel's markup."""
    rows = getattr(company, "contact_rows", None)
    if rows is None or limit != COMPANY_CONTACTS_SHOWN:
        rows = list_rows(_company_contacts_qs(company), _PANEL_FIELDS)[:limit]
    return [_panel_row(row) for row in rows]


def _panel_row(row: dict[str, Any]) -> ListRow:
    return ListRow(
        row,
        full_name=person_name(row["first_name"], row["last_name"]),
        phone_display=format_phone(row["phone"]),
        mobile_display=format_phone(row["mobile"]),
    )


def tag_suggestions(user: User, prefix: str, *, limit: int = 10) -> list[str]:
    """Names of tags on companies or contacts ``user`` may see, starting with ``prefix``.

    A tag only on records of other teams is never offered: its name is their data. One query;
    each EXISTS walks the through table's tag index and stops at the first visible record.
    """
    prefix = prefix.strip()
    qs = Tag.objects.all()
    if not user.is_admin:
        owners = list(user.visible_owner_ids)
        qs = qs.filter(
            Exists(Company.tags.through.objects.filter(tag_id=OuterRef("pk"), company__owner_id__in=owners))
            | Exists(Contact.tags.through.objects.filter(tag_id=OuterRef("pk"), contact__owner_id__in=owners))
        )
    if prefix:
        qs = qs.filter(name__istartswith=prefix)
    return list(qs.order_by(Lower("name")).values_list("name", flat=True)[:limit])


def company_options(user: User, query: str, *, limit: int = 20) -> list[Company]:
    """Companies for the contact form's company picker: visible, active, matching ``query``."""
    qs = Company.objects.visible_to(user).active()
    if query.strip():
        qs = qs.filter(company_search_q(query))
    return list(qs.order_by(company_name_key(), "id")[:limit])


def _contacts_by_id(first: QuerySet, order: tuple) -> list[Contact]:
    """The contacts of the ids ``first`` selects (ordered and limited), with their company's
    name, in ``order``: the company joined after the limit, not to every match before it
    (joined before the sort, an admin's common-term search cost ~90 ms)."""
    return list(
        Contact.objects.filter(pk__in=first)
        .select_related("company")
        .order_by(*order)
        .only("id", "first_name", "last_name", "email", "phone", "mobile", "company__name")
    )


def best_contact_matches(user: User, query: str, limit: int) -> list[Contact]:
    """The first ``limit`` + 1 active contacts ``user`` may read that match ``query``, best
    first: those whose surname is a word of it ("smith": the Smiths), then the other matches by
    name (the Goldsmiths, the people at smithholdings.com, who sort before the Smiths by name).

    The surname matches come from the (lower surname, lower first name, id) index in its
    order, no more than are asked for; only when there are fewer are the other matches read,
    all of them, to take the first by name (an admin's "smith": 13,718 matches from 10,504
    table pages, 16 ms; bench/FINDINGS.md §7.21)."""
    surnamed = surname_matches(user, query)
    rows: list[Contact] = []
    if surnamed is not None:
        order = (*_SURNAME_ORDER.keys, "id")
        rows = _contacts_by_id(surnamed.active().order_by(*order).values("id")[: limit + 1], order)
    if len(rows) <= limit:
        others = visible_contacts_matching(user, query).active()
        if surnamed is not None:
            others = others.alias(surname=Lower("last_name")).exclude(surname__in=surname_words(query))
        # Sorted by keys no index provides, so the trigram matches are collected and sorted
        # (``unindexed``), not the name index walked hoping to meet them.
        first = others.order_by(*(unindexed(key) for key in contact_name_keys()), "id").values("id")
        rows += _contacts_by_id(first[: limit + 1 - len(rows)], (*contact_name_keys(), "id"))
    return rows


def contact_options(user: User, query: str, *, limit: int = 20) -> list[Contact]:
    """Contacts for a contact picker (the Unmatched events page): visible, active, matching
    ``query`` (names, email, phone), best first (``best_contact_matches``); nothing until
    something is typed."""
    if not query.strip():
        return []
    return best_contact_matches(user, query, limit)[:limit]


def _lifecycle_counts(key: object, *, owner: int) -> QuerySet:
    companies, contacts = (
        model.objects.filter(owner_id=owner, archived_at__isnull=True)
        .order_by()
        .values("lifecycle_stage")
        .annotate(n=Count("*"), kind=Value(key))  # count(*) lets the (owner, stage) index answer alone
        .values_list("kind", "lifecycle_stage", "n")
        for key, model in (("companies", Company), ("contacts", Contact))
    )
    return companies.union(contacts, all=True)  # one query for both


# Compiled once per process (crm/compiled.py): the home panel of every home and My day page.
_LIFECYCLE_COUNTS = CompiledQuery(_lifecycle_counts, owner=int)


def lifecycle_counts(user: User) -> dict[str, dict[str, int]]:
    """The user's own active companies and contacts per lifecycle stage, for the home panel."""
    counts: dict[str, dict[str, int]] = {"companies": {}, "contacts": {}}
    for kind, stage, n in _LIFECYCLE_COUNTS.fetch(owner=user.pk):
        counts[kind][stage] = n
    return {key: {stage: found.get(stage, 0) for stage in LifecycleStage.values} for key, found in counts.items()}


# --- History ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    label: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryEntry:
    when: datetime
    who: str
    created: bool
    changes: list[FieldChange]
    reason: str = ""


_HIDDEN_FIELDS = {"updated_at", "completeness", "created_at", "external_id", "merged_into"}


def _history_records(key: tuple[type[Model], int], *, record: int) -> QuerySet:
    """The ``limit`` + 1 latest versions of ``record`` (the one more to compare the oldest
    with), each with its tag names (one query, not three)."""
    model, limit = key
    history_model = model.history.model
    tags_model = next(
        rel.related_model
        for rel in history_model._meta.related_objects
        if rel.related_model._meta.object_name == f"{history_model._meta.object_name}_tags"
    )
    version_tags = tags_model.objects.filter(history=OuterRef("pk")).values("tag__name")
    return (
        model.history.filter(id=record)
        .select_related("history_user")
        .annotate(tag_snapshot=ArraySubquery(version_tags))
        .order_by("-history_date", "-pk")[: limit + 1]
    )


# The History panel of every company and contact page: built and compiled once per model.
_HISTORY_RECORDS = CompiledQuery(_history_records, record=int)


def history_entries(obj: Company | Contact, *, user: User | None = None, limit: int = 25) -> list[HistoryEntry]:
    """Readable history of ``obj``, newest first: who changed which field from what to what.

    A constant number of queries: the records (plus one to compare the oldest with) with
    their tag names, and the names behind foreign keys in one query per related model.
    """
    model = type(obj)
    records = _HISTORY_RECORDS.fetch((model, limit), record=obj.pk)
    fields = [f for f in model._meta.concrete_fields if f.editable and f.name not in _HIDDEN_FIELDS and f.name != "id"]
    diffs: list[tuple[Any, Any | None, list[tuple[Any, Any, Any]]]] = []
    # Custom fields (one JSONB column) are shown field by field, under their labels.
    custom_changes: dict[int, list[tuple[str, str, str]]] = {}
    related_ids: dict[type[Model], set[int]] = {}
    for index, record in enumerate(records[:limit]):
        previous = records[index + 1] if index + 1 < len(records) else None
        changes = []
        if previous is not None:
            for f in fields:
                # The raw column values: descriptors (e.g. countries) would wrap them.
                old, new = previous.__dict__.get(f.attname), record.__dict__.get(f.attname)
                if old != new:
                    changes.append((f, old, new))
                    if f.is_relation:
                        related_ids.setdefault(f.related_model, set()).update(v for v in (old, new) if v)
            old_tags = sorted(name or "?" for name in previous.tag_snapshot)
            new_tags = sorted(name or "?" for name in record.tag_snapshot)
            if old_tags != new_tags:
                changes.append((model._meta.get_field("tags"), ", ".join(old_tags), ", ".join(new_tags)))
            custom_changes[record.pk] = custom_fields.history_changes(model, previous.custom, record.custom)
        elif record.history_type != "+":
            continue  # the oldest shown record is not the creation: nothing to compare it with
        diffs.append((record, previous, changes))
    names = {}
    for related, ids in related_ids.items():
        qs = related._default_manager.filter(pk__in=ids)
        if user is not None and related is Company:
            qs = qs.visible_to(user)  # a former company now in another team stays unnamed
        names[related] = {o.pk: str(o) for o in qs}
    entries = []
    for record, previous, changes in diffs:
        extra = [FieldChange(label, old, new) for label, old, new in custom_changes.get(record.pk, [])]
        if previous is not None and not changes and not extra and not record.history_change_reason:
            continue
        entries.append(
            HistoryEntry(
                when=record.history_date,
                who=str(record.history_user) if record.history_user else _("system"),
                created=previous is None,
                reason=record.history_change_reason or "",
                changes=[
                    FieldChange(str(f.verbose_name), _display(f, old, names), _display(f, new, names))
                    for f, old, new in changes
                ]
                + extra,
            )
        )
    return entries


def _display(f: Any, value: Any, names: dict[type, dict[int, str]]) -> str:
    if value in (None, ""):
        return "—"
    if f.many_to_many:
        return str(value)
    if f.is_relation:
        return names.get(f.related_model, {}).get(value, _("(not visible)"))
    if f.name in ("phone", "mobile"):
        return format_phone(str(value))
    if f.name == "country":
        return str(countries.name(value)) or str(value)
    if f.choices:
        return str(dict(f.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, datetime):
        return DateText().day_time(timezone.localtime(value))
    if isinstance(value, date):
        return DateText().day(value)
    return str(value)


# --- Duplicates ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CandidatePage:
    rows: list[DuplicateCandidate]
    has_next: bool
    next_cursor: str


def _pair_visible(qs: QuerySet, user: User | OwnerAccess, kind: str) -> QuerySet:
    """Only pairs whose two records are active and visible to ``user``."""
    qs = qs.filter(**{f"{kind}_a__archived_at__isnull": True, f"{kind}_b__archived_at__isnull": True})
    if not user.is_admin:
        ids = user.visible_owner_ids
        qs = qs.filter(**{f"{kind}_a__owner_id__in": ids, f"{kind}_b__owner_id__in": ids})
    return qs


def duplicate_candidates(
    user: User, *, kind: str, owner: User | None = None, after: str = "", size: int = 25
) -> CandidatePage:
    """Open candidate pairs of ``kind`` the user may see in full, best first, keyset-paged on
    (score, id) by the ``dupcand_status_kind_score`` index; ``after`` is "score.id"."""
    qs = _pair_visible(DuplicateCandidate.objects.filter(status=CandidateStatus.OPEN, kind=kind), user, kind)
    if owner is not None:
        qs = qs.filter(Q(**{f"{kind}_a__owner": owner}) | Q(**{f"{kind}_b__owner": owner}))
    raw_score, _sep, raw_pk = after.partition(".")
    score, pk = int_or_none(raw_score), id_or_none(raw_pk)
    if score is not None and pk is not None:
        qs = qs.filter(Q(score__lt=score) | Q(score=score, pk__lt=pk))
    related = [f"{kind}_a__owner", f"{kind}_b__owner"]
    if kind == RecordKind.CONTACT:
        related += ["contact_a__company", "contact_b__company"]
    rows = list(qs.select_related(*related).order_by("-score", "-pk")[: size + 1])
    has_next = len(rows) > size
    rows = rows[:size]
    for row in rows:
        row.reason_labels = [reason_label(r) for r in row.reasons]
        # Contacts: each field's agreement and how much it moved the match weight (+ or −).
        row.reason_items = [
            {"label": linkage.reason_label(r), "weight": float(r.get("weight", 0.0))}
            for r in row.reasons
            if "field" in r
        ]
        row.can_merge = user.can_edit_owner(row.first.owner_id) and user.can_edit_owner(row.second.owner_id)
        # The more complete record (the older one on a tie) is offered as the one to keep.
        first, second = row.first, row.second
        keep_second = (second.completeness, -second.pk) > (first.completeness, -first.pk)
        row.keep, row.drop = (second, first) if keep_second else (first, second)
    cursor = f"{rows[-1].score}.{rows[-1].pk}" if has_next and rows else ""
    return CandidatePage(rows, has_next, cursor)


def candidate_for_user(user: User, pk: int) -> DuplicateCandidate:
    """An open pair the user may see in full and edit on both sides (else 404 / 403)."""
    candidate = DuplicateCandidate.objects.filter(pk=pk, status=CandidateStatus.OPEN).first()
    if candidate is None:
        raise Http404
    candidate = _pair_visible(DuplicateCandidate.objects.filter(pk=pk), user, candidate.kind).first()
    if candidate is None:
        raise Http404
    if not (user.can_edit_owner(candidate.first.owner_id) and user.can_edit_owner(candidate.second.owner_id)):
        raise PermissionDenied
    return candidate


# --- Data quality -------------------------------------------------------------------------


@dataclass
class QualityRow:
    """Counts for one owner or team; ``companies`` / ``contacts`` map a measure to a count."""

    label: str
    owner: User | None = None
    team_id: int | None = None
    companies: dict[str, Any] = field(default_factory=dict)
    contacts: dict[str, Any] = field(default_factory=dict)

    @property
    def query(self) -> str:
        """The list filter that shows exactly this row's records ("owner=3&", "team=1&")."""
        if self.owner is not None:
            # The owner filter offers active users only; a former owner's records are "missing=owner".
            return f"owner={self.owner.pk}&" if self.owner.is_active else ""
        return f"team={self.team_id}&" if self.team_id else ""


_MEASURES: dict[type, list[str]] = {
    Company: ["email", "phone", "owner"],
    Contact: ["email", "phone", "company", "owner"],
}


def _quality_counts(user: User, model: type[Company] | type[Contact]) -> dict[int, dict[str, Any]]:
    """One aggregate query: per owner, the active records and how many miss each thing."""
    aggregates: dict[str, Any] = {
        "total": Count("id"),
        "completeness_sum": Sum("completeness"),
        "invalid_phone": Count("id", filter=Q(phone_is_invalid=True)),
        # Records with at least one file (the attachment index answers each probe).
        "with_files": Count(
            "id",
            filter=Q(
                Exists(
                    Attachment.objects.filter(
                        content_type=ContentType.objects.get_for_model(model), object_id=OuterRef("pk")
                    )
                )
            ),
        ),
    }
    for measure in _MEASURES[model]:
        if measure != "owner":  # an inactive owner is a property of the whole owner row
            aggregates[measure] = Count("id", filter=MISSING[model][measure])
    rows = model.objects.visible_to(user).active().order_by().values("owner_id").annotate(**aggregates)
    return {row.pop("owner_id"): row for row in rows}


def _with_average(counts: dict[str, Any]) -> dict[str, Any]:
    total = counts.get("total", 0)
    counts["average"] = round(counts.get("completeness_sum", 0) / total) if total else None
    return counts


def data_quality(user: User) -> dict[str, Any]:
    """The data-quality dashboard: per owner and per team, in the user's list scope."""
    companies = _quality_counts(user, Company)
    contacts = _quality_counts(user, Contact)
    owner_ids = set(companies) | set(contacts)
    owners = {u.pk: u for u in User.objects.filter(pk__in=owner_ids)}
    teams = list(teams_visible_to(user).prefetch_related("members").order_by("name"))
    empty = {"total": 0, "completeness_sum": 0, "invalid_phone": 0, "with_files": 0}

    def add(into: dict[str, Any], counts: dict[str, Any]) -> None:
        for key, value in counts.items():
            into[key] = into.get(key, 0) + (value or 0)

    owner_rows = []
    totals = QualityRow(label=str(_("All")), companies=dict(empty), contacts=dict(empty))
    for pk in sorted(owner_ids, key=lambda i: str(owners[i]).lower()):
        row = QualityRow(
            label=str(owners[pk]),
            owner=owners[pk],
            companies={**empty, **companies.get(pk, {})},
            contacts={**empty, **contacts.get(pk, {})},
        )
        if not owners[pk].is_active:
            row.companies["owner"] = row.companies["total"]
            row.contacts["owner"] = row.contacts["total"]
        add(totals.companies, row.companies)
        add(totals.contacts, row.contacts)
        owner_rows.append(row)
    team_rows = []
    by_owner = {row.owner.pk: row for row in owner_rows if row.owner is not None}
    for team in teams:
        row = QualityRow(label=team.name, team_id=team.pk, companies=dict(empty), contacts=dict(empty))
        for member in team.members.all():
            if member.pk in by_owner:
                add(row.companies, by_owner[member.pk].companies)
                add(row.contacts, by_owner[member.pk].contacts)
        team_rows.append(row)
    for row in [*owner_rows, *team_rows, totals]:
        _with_average(row.companies)
        _with_average(row.contacts)
    return {"owners": owner_rows, "teams": team_rows, "totals": totals}


# --- Merge --------------------------------------------------------------------------------

# Rows a merge moves, by the reverse accessor other apps declared on Company / Contact.
_MERGE_PREVIEW = {
    Company: [("contacts", gettext_lazy("contacts")), ("deals", gettext_lazy("deals")),
              ("activities", gettext_lazy("activities")), ("timeline", gettext_lazy("timeline entries"))],
    Contact: [("deals", gettext_lazy("deals")), ("activities", gettext_lazy("activities")),
              ("timeline", gettext_lazy("timeline entries"))],
}  # fmt: skip


def merge_preview(loser: Company | Contact) -> list[tuple[str, int]]:
    """How many related rows the merge will move, in one query (apps that are not installed
    have no reverse accessor and are skipped, so contacts imports none of them)."""
    model = type(loser)
    relations = {
        rel.get_accessor_name(): rel for rel in model._meta.related_objects if rel.one_to_many or rel.many_to_many
    }
    counts = {}
    for accessor, _label in _MERGE_PREVIEW[model]:
        rel = relations.get(accessor)
        if rel is None:
            continue
        lookup = rel.field.name
        sub = (
            rel.related_model._default_manager.filter(**{lookup: OuterRef("pk")})
            .order_by()
            .values(lookup)
            .annotate(n=Count("*"))
            .values("n")
        )
        counts[f"n_{accessor}"] = Coalesce(Subquery(sub, output_field=IntegerField()), 0)
    if not counts:
        return []
    row = model._default_manager.filter(pk=loser.pk).values(**counts).first() or {}
    return [(str(label), row[f"n_{a}"]) for a, label in _MERGE_PREVIEW[model] if row.get(f"n_{a}")]


def merge_same_fields(survivor: Company | Contact, loser: Company | Contact) -> list[str]:
    from contacts.merge import MERGE_FIELDS, differing_fields, record_kind

    differing = set(differing_fields(survivor, loser))
    return [
        str(survivor._meta.get_field(name).verbose_name)
        for name in MERGE_FIELDS[record_kind(survivor)]
        if name not in differing
    ]


def merge_for_user(user: User, pk: int) -> MergeRecord:
    """A merge whose survivor the user may see (else 404) and may change with its loser (else 403)."""
    record = (
        MergeRecord.objects.select_related("survivor_company", "survivor_contact", "loser_company", "loser_contact")
        .filter(pk=pk)
        .first()
    )
    if record is None or not user.can_read_owner(record.survivor.owner_id):
        raise Http404
    loser_owner = (record.loser_company or record.loser_contact).owner_id
    if not (user.can_edit_owner(record.survivor.owner_id) and user.can_edit_owner(loser_owner)):
        raise PermissionDenied
    return record
