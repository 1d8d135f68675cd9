// The pipeline editor: drag a stage by its handle (SortableJS) and the new order is saved at
// once; the "Move up" / "Move down" buttons do the same from the keyboard or without
// JavaScript. If the server refuses the order, the page reloads to show the stored one.
(() => {
  const list = document.querySelector("[data-stage-editor]");
  if (!list || typeof Sortable === "undefined") return;
  const csrf = () => {
    const field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  };
  const syncButtons = () => {
    const rows = [...list.querySelectorAll(".stage-row")];
    rows.forEach((row, index) => {
      const up = row.querySelector("button[value=up]");
      const down = row.querySelector("button[value=down]");
      if (up) up.disabled = index === 0;
      if (down) down.disabled = index === rows.length - 1;
    });
  };
  Sortable.create(list, {
    handle: ".stage-handle",
    animation: 150,
    onEnd: async (event) => {
      if (event.oldIndex === event.newIndex) return;
      const body = new URLSearchParams();
      list.querySelectorAll(".stage-row").forEach((row) => body.append("stage", row.dataset.stageId));
      try {
        const response = await fetch(list.dataset.reorderUrl, {
          method: "POST",
          headers: { "X-CSRFToken": csrf(), "Content-Type": "application/x-www-form-urlencoded" },
          body,
          credentials: "same-origin",
        });
        if (!response.ok) throw new Error(String(response.status));
        syncButtons();
        list.dispatchEvent(new CustomEvent("stages-reordered", { bubbles: true }));
      } catch (error) {
        window.alert(list.dataset.errorText);
        window.location.reload();
      }
    },
  });
})();
