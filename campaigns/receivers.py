"""Signal receivers: a new deal remembers the first campaign that touched its customer."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from deals.signals import deal_stage_changed


@receiver(deal_stage_changed, dispatch_uid="campaigns.deal_first_touch")
def deal_first_touch(sender: Any, deal: Any, stage_change: Any, **kwargs: Any) -> None:
    if stage_change.from_stage_id is not None:
        return
    from campaigns.services import deal_attribute_first_touch

    deal_attribute_first_touch(deal=deal)
