// The pipeline board: drag a card to another column (SortableJS), or use its "Move to…" menu.
// Both submit the card's own htmx form, so the server's answer (the card in its new column and
// fresh column totals, out of band) is handled the same way. A drop on "Lost" opens a dialog
// asking for the reason. When a move answers with an error — or no answer arrives — the board
// does not guess: the move may have been saved, or someone else may have moved the card, so it
// asks the server for the card as it really is now and shows it in its real column (putting
// the card back only when even that cannot be read).
(() => {
  const board = document.querySelector("[data-kanban]");
  if (!board || typeof Sortable === "undefined") return;
  const dialogElement = document.getElementById("move-dialog");
  const dialog = dialogElement ? bootstrap.Modal.getOrCreateInstance(dialogElement) : null;
  let pending = null; // {item, from, index} of a drag the server has not accepted yet

  function putBack() {
    if (pending && pending.item.isConnected) {
      pending.from.insertBefore(pending.item, pending.from.children[pending.index] || null);
    }
    pending = null;
  }

  // The card as stored now: its real column and fresh column totals (htmx out-of-band swaps).
  async function showRealState(card) {
    const url = card && card.dataset.cardUrl;
    if (!url) throw new Error("no card url");
    const params = new URLSearchParams();
    card.querySelectorAll("form.move-form input[name=owner], form.move-form input[name=team]").forEach((input) => {
      if (input.value) params.append(input.name, input.value);
    });
    const response = await fetch(params.size ? `${url}?${params}` : url, {
      headers: { "HX-Request": "true" },
      credentials: "same-origin",
    });
    if (!response.ok) throw new Error(`card answered ${response.status}`);
    const html = await response.text();
    htmx.swap(card, html, { swapStyle: "outerHTML" });
  }

  function moveFailed(form) {
    const card = form.closest(".deal-card");
    const dragged = pending;
    pending = null;
    showRealState(card).catch(() => {
      pending = dragged;
      putBack();
    });
  }

  function submitMove(card, stageId) {
    const form = card && card.querySelector("form.move-form");
    if (!form) return false;
    form.querySelector("input[name=stage]").value = stageId;
    form.requestSubmit();
    return true;
  }

  const lists = [...document.querySelectorAll(".kanban-cards")];
  lists.forEach((list) => {
    Sortable.create(list, {
      group: "deals",
      animation: 150,
      draggable: ".deal-card[data-draggable]",
      filter: "button, input, select, .dropdown-menu",
      preventOnFilter: false,
      ghostClass: "deal-card-ghost",
      // Pointer events instead of native HTML5 drag: the same behaviour on every browser and
      // touch screen, and scrollable columns keep working while dragging.
      forceFallback: true,
      fallbackTolerance: 3,
      onEnd(event) {
        if (event.from === event.to) return;
        pending = { item: event.item, from: event.from, index: event.oldIndex };
        if (!submitMove(event.item, event.to.dataset.stageId)) putBack();
      },
    });
  });

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-move-stage]");
    if (!button) return;
    pending = null;
    submitMove(button.closest(".deal-card"), button.dataset.moveStage);
  });

  document.body.addEventListener("htmx:afterRequest", (event) => {
    if (!event.target.matches || !event.target.matches("form.move-form")) return;
    const xhr = event.detail.xhr;
    if (!event.detail.successful) {
      moveFailed(event.target); // an error status, or no answer at all (network, timeout)
    } else if (!xhr.getResponseHeader("HX-Retarget")) {
      pending = null; // moved: the server's card replaced the dragged one
    }
  });

  document.body.addEventListener("deals:ask-lost-reason", () => {
    if (dialog) dialog.show();
  });
  if (dialogElement) {
    // Closing the dialog without saving cancels the drop.
    dialogElement.addEventListener("hidden.bs.modal", putBack);
    dialogElement.addEventListener("submit", () => { pending = null; });
  }
})();
