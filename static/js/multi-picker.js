// A searchable checkbox list for <select multiple data-multi-picker>: a filter box and one
// checkbox per option, kept in step with the select (which stays in the form and is what is
// submitted). Without JavaScript the plain multi-select still works. Options swapped in by
// htmx (the deal form's company change) rebuild the list.
(() => {
  const build = (select) => {
    let box = select.nextElementSibling;
    if (!box || !box.classList.contains("multi-picker")) {
      box = document.createElement("div");
      box.className = "multi-picker border rounded";
      box.setAttribute("role", "group");
      const label = select.id && document.querySelector(`label[for="${select.id}"]`);
      if (label) {
        if (!label.id) label.id = `${select.id}-label`;
        box.setAttribute("aria-labelledby", label.id);
        // The label's click would go to the hidden select; send it to the filter box instead.
        label.addEventListener("click", (event) => {
          event.preventDefault();
          box.querySelector("input[type=search]").focus();
        });
      }
      const filter = document.createElement("input");
      filter.type = "search";
      filter.className = "form-control form-control-sm border-0 border-bottom rounded-0";
      filter.placeholder = select.dataset.filterLabel || "";
      filter.setAttribute("aria-label", select.dataset.filterLabel || "");
      filter.setAttribute("aria-controls", `${select.id}-options`);
      const list = document.createElement("div");
      list.className = "multi-picker-options";
      list.id = `${select.id}-options`;
      const empty = document.createElement("p");
      empty.className = "small text-secondary m-2 multi-picker-empty";
      empty.textContent = select.dataset.emptyText || "";
      box.append(filter, list, empty);
      select.after(box);
      select.hidden = true;
      filter.addEventListener("input", () => applyFilter(box));
      // Enter in the filter box ticks the only visible option instead of submitting the form.
      filter.addEventListener("keydown", (event) => {
        if (event.key !== "Enter") return;
        event.preventDefault();
        const shown = [...list.querySelectorAll(".form-check")].filter((row) => !row.hidden);
        if (shown.length === 1) shown[0].querySelector("input").click();
      });
    }
    const list = box.querySelector(".multi-picker-options");
    list.replaceChildren();
    [...select.options].forEach((option, index) => {
      const row = document.createElement("div");
      row.className = "form-check mx-2 my-1";
      const input = document.createElement("input");
      input.type = "checkbox";
      input.className = "form-check-input";
      input.id = `${select.id}-option-${index}`;
      input.checked = option.selected;
      input.addEventListener("change", () => {
        option.selected = input.checked;
        select.dispatchEvent(new Event("change", { bubbles: true }));
      });
      const text = document.createElement("label");
      text.className = "form-check-label";
      text.htmlFor = input.id;
      text.textContent = option.textContent;
      row.append(input, text);
      list.append(row);
    });
    applyFilter(box);
  };

  const applyFilter = (box) => {
    const words = box.querySelector("input[type=search]").value.trim().toLowerCase().split(/\s+/).filter(Boolean);
    let shown = 0;
    box.querySelectorAll(".multi-picker-options .form-check").forEach((row) => {
      const text = row.textContent.toLowerCase();
      // Ticked rows stay in view: what is chosen is always visible.
      row.hidden = !row.querySelector("input").checked && !words.every((word) => text.includes(word));
      if (!row.hidden) shown += 1;
    });
    box.querySelector(".multi-picker-empty").hidden = shown > 0;
  };

  const init = (root) => root.querySelectorAll("select[multiple][data-multi-picker]").forEach(build);
  init(document);
  document.body.addEventListener("htmx:afterSwap", (event) => {
    const target = event.target;
    if (target.matches && target.matches("select[multiple][data-multi-picker]")) build(target);
    else if (target.querySelectorAll) init(target);
  });
})();
