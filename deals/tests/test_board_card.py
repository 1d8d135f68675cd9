"""The board's "what is this card really?" read, used after a move answered with an error."""

import pytest
from django.urls import reverse

from deals import services
from deals.tests.factories import stage

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.parametrize("who", ["owner", "teammate", "manager"])
def test_it_shows_the_card_in_the_column_it_is_really_in(request, deal, pipeline, owner, who):
    proposal = stage(pipeline, "Proposal")
    services.deal_move_stage(deal=deal, stage=proposal, actor=owner)  # saved, whatever the board was told

    response = request.getfixturevalue(f"{who}_client").get(reverse("deals:card", args=[deal.pk]), **HTMX)

    assert response.status_code == 200
    body = response.content.decode()
    assert f'hx-swap-oob="afterbegin:#cards-{proposal.pk}"' in body
    assert f'id="deal-card-{deal.pk}"' in body
    # Every open column's figures are fresh (the board does not know which ones changed).
    for name in ("Lead", "Qualified", "Proposal", "Negotiation"):
        assert f'id="col-head-{stage(pipeline, name).pk}" hx-swap-oob="true"' in body


def test_an_outsider_gets_404(outsider_client, deal):
    assert outsider_client.get(reverse("deals:card", args=[deal.pk]), **HTMX).status_code == 404


def test_a_closed_deal_leaves_the_board(owner_client, owner, deal, pipeline):
    services.deal_mark_won(deal=deal, actor=owner)
    body = owner_client.get(reverse("deals:card", args=[deal.pk]), **HTMX).content.decode()
    assert f'id="deal-card-{deal.pk}"' not in body
    assert 'hx-swap-oob="true"' in body


def test_board_cards_carry_the_url_the_board_reads_them_from(owner_client, deal, pipeline):
    body = owner_client.get(reverse("deals:board", args=[pipeline.pk])).content.decode()
    assert f'data-card-url="{reverse("deals:card", args=[deal.pk])}"' in body


def test_it_answers_with_a_constant_number_of_queries(owner_client, deal, django_assert_max_num_queries):
    with django_assert_max_num_queries(7):
        owner_client.get(reverse("deals:card", args=[deal.pk]), **HTMX)
