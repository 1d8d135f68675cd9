// The calendar's week and day grid: drag an activity onto another time slot to move it (the
// same reschedule form My day posts), then the page reloads to show the stored state. Slots
// are links to a new meeting at that time. The keyboard path needs no script: the grid's
// "New meeting at" form, and each activity's "Move" button opening a popover form that posts
// to the same reschedule URL.
(() => {
  const grid = document.querySelector("[data-calendar-grid]");
  if (!grid) return;
  const csrf = () => {
    const header = document.body.getAttribute("hx-headers");
    try { return JSON.parse(header)["X-CSRFToken"]; } catch (error) { return ""; }
  };
  let dragged = null;
  grid.addEventListener("dragstart", (event) => {
    const item = event.target.closest && event.target.closest("[data-reschedule-url]");
    if (!item) return;
    dragged = item;
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.href);
    item.classList.add("is-dragging");
  });
  grid.addEventListener("dragend", () => {
    if (dragged) dragged.classList.remove("is-dragging");
    grid.querySelectorAll(".is-drop-target").forEach((slot) => slot.classList.remove("is-drop-target"));
  });
  const slotAt = (event) => {
    const slot = event.target.closest && event.target.closest(".crm-grid-slot");
    return dragged && slot ? slot : null;
  };
  grid.addEventListener("dragover", (event) => {
    const slot = slotAt(event);
    if (!slot) return;
    event.preventDefault();
    grid.querySelectorAll(".is-drop-target").forEach((other) => other !== slot && other.classList.remove("is-drop-target"));
    slot.classList.add("is-drop-target");
  });
  grid.addEventListener("drop", async (event) => {
    const slot = slotAt(event);
    if (!slot) return;
    event.preventDefault();
    const body = new URLSearchParams({ due_at: slot.dataset.start });
    try {
      const response = await fetch(dragged.dataset.rescheduleUrl, {
        method: "POST",
        headers: { "X-CSRFToken": csrf(), "Content-Type": "application/x-www-form-urlencoded" },
        body,
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(String(response.status));
    } catch (error) {
      window.alert(grid.dataset.errorText);
    }
    window.location.reload();
  });
})();
